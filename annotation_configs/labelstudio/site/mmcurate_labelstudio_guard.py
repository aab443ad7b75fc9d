"""Least privilege for an annotator inside their own Label Studio instance.

In Label Studio Community every logged-in user may do everything (create storages over any
folder, read and edit webhooks with their headers, invite people, import by URL, add ML
backends, create and delete projects). The only user of an mmcurate instance besides the
curator's admin account is one annotator, who needs to open their projects, read tasks and
media, and create, update and delete their own annotations — nothing else. This middleware
answers 403 to the rest for every user who is not a superuser (the admin account mmcurate
made is the only superuser of an instance). Runs inside Label Studio's process.
"""

import json
import posixpath
import re

from django.http import HttpResponse

ANY = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})
WRITE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# (path pattern, methods refused to an annotator)
CURATOR_ONLY = [
    (re.compile(r"^/api/storages"), ANY),  # local-files storages over any folder, cloud storages
    (re.compile(r"^/api/webhooks"), ANY),  # their headers carry the instance's webhook secret
    (re.compile(r"^/api/invite"), ANY),  # the organisation's signup token
    (re.compile(r"^/api/organizations"), ANY),
    (re.compile(r"^/api/ml"), ANY),  # ML backends: requests to any URL
    (re.compile(r"^/api/model-provider"), ANY),
    (re.compile(r"^/api/import"), ANY),
    (re.compile(r"^/api/projects/?$"), WRITE),  # creating projects
    (re.compile(r"^/api/projects/\d+/?$"), WRITE),  # label config, settings, deletion
    (re.compile(r"^/api/projects/\d+/(import|reimport|file-uploads|tasks|sync|duplicate|dashboard)"), WRITE),
    (re.compile(r"^/api/projects/\d+/(export/files|exports)"), WRITE),
    (re.compile(r"^/api/tasks/?$"), WRITE),
    (re.compile(r"^/api/tasks/\d+/?$"), WRITE),  # task data (the media URL), task deletion
    (re.compile(r"^/api/predictions"), WRITE),
    (re.compile(r"^/data/upload"), ANY),
]
_ML_LIST = re.compile(r"^/api/ml/?$")
_OWN_USER = re.compile(r"^/api/users/(\d+)/?$")
# data manager actions that delete or rewrite tasks, annotations or predictions in bulk
_BULK_ACTION = re.compile(r"delete|remove|prediction|duplicate|relabel|cache", re.IGNORECASE)


def _user(request):
    """The user a request acts as: the session's, or the one its API token or JWT names."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    from rest_framework.request import Request
    from rest_framework.settings import api_settings

    wrapped = Request(request)
    for authenticator in api_settings.DEFAULT_AUTHENTICATION_CLASSES:
        try:
            found = authenticator().authenticate(wrapped)
        except Exception:  # a bad token: the view itself answers 401
            return None
        if found:
            return found[0]
    return None


def refused(request) -> bool:
    """True when ``request`` is one an annotator may not make."""
    # path_info, not path: behind the gateway Django's path carries the instance's prefix (/a/<name>/...),
    # while URLs resolve on path_info, so that is what a rule must see
    path, method = request.path_info, request.method
    if path.startswith("/api/dm/actions"):
        return method in WRITE and bool(_BULK_ACTION.search(request.GET.get("id", "") or "delete"))
    own = _OWN_USER.match(path)
    if path.startswith("/api/users"):
        if method not in WRITE:
            return False
        user = _user(request)
        return not (own and user is not None and int(own.group(1)) == user.id and method in ("PATCH", "PUT"))
    return any(pattern.match(path) and method in methods for pattern, methods in CURATOR_ONLY)


def _escapes(relative: str) -> bool:
    """True when a local-files path leaves the document root (Label Studio normalises it the same way)."""
    normalised = posixpath.normpath(relative).lstrip("/")
    return normalised == ".." or normalised.startswith("../") or "\x00" in relative


class CuratorOnlyMiddleware:
    """403 for curator-only endpoints unless the requesting user is a superuser."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/data/local-files") and _escapes(request.GET.get("d") or ""):
            return HttpResponse(b"", status=404)  # Label Studio answers 500 naming its document root
        if refused(request):
            user = _user(request)
            if user is not None and not user.is_superuser:
                if request.method == "GET" and _ML_LIST.match(request.path_info):
                    # the labeling view lists a project's ML backends on every load and shows a red error
                    # when refused; mmcurate adds none, so an annotator is told there are none
                    return HttpResponse(b"[]", status=200, content_type="application/json")
                body = {"detail": "This action is reserved to the curator in mmcurate; annotators label their "
                                  "tasks only.", "status_code": 403}
                return HttpResponse(json.dumps(body), status=403, content_type="application/json")
        return self.get_response(request)


def exception_handler(exc, context):
    """Label Studio's handler, minus what a 5xx would reveal (exception text with server paths, tracebacks)."""
    from label_studio.core.utils.common import custom_exception_handler

    response = custom_exception_handler(exc, context)
    if response is not None and response.status_code >= 500 and isinstance(response.data, dict):
        response.data = {"id": str(response.data.get("id", "")), "status_code": response.status_code,
                         "detail": "Internal error; the curator can find it in the instance's log by this id.",
                         "exc_info": None}
    return response
