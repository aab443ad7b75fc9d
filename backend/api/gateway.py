"""The annotators' gateway: ``/a/<pseudonym>/...`` proxied to that annotator's Label Studio on loopback.

One address for everyone: the instances listen on 127.0.0.1 only, and this route is the
one way in from outside. A request for a name reaches that name's instance and no other
(the port comes from the name's record, never from the request); an unknown name is 404; the
gateway adds no credentials — every page behind it asks for the instance's own login. The
instance runs with its gateway address as ``LABEL_STUDIO_HOST`` so that its pages, static
files, API calls and redirects stay under the prefix; the gateway still rewrites any
``Location`` or ``Set-Cookie`` that would leave it, so two instances open in one browser never
see each other's cookies. mmcurate's own login cookie is never passed on.

A stopped instance is started by the first request for it: the person sees a short
"starting your workspace" page that reloads itself (a script call gets 503 with
``Retry-After``). See ``backend.services.annotation.gateway`` for starts, limits and idle stops.
"""

from __future__ import annotations

import re
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from html import escape
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    StreamingResponse,
)
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from backend.api.deps import TOKEN_COOKIE
from backend.services.annotation.gateway import Workspace, Workspaces, WorkspaceState
from backend.services.annotation.home import GATEWAY_PREFIX

router = APIRouter(include_in_schema=False)

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# RFC 9110 7.6.1: meaningful for one connection only, never forwarded
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "proxy-connection"})
RETRY_S = 2
MAX_BODY = 32 * 2**20
_PREFIXED = re.compile("^" + re.escape(GATEWAY_PREFIX) + "/[^/]*")

_STARTING = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{retry}"><title>Starting your workspace</title></head>
<body style="font-family:sans-serif;max-width:34em;margin:5em auto;line-height:1.5">
<h1>Starting your workspace…</h1><p>{detail}</p>
<p>This page reloads by itself; it usually takes a few seconds.</p></body></html>"""


class _RefuseAll(DefaultCookiePolicy):
    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False


# The proxy's client must never keep a cookie: a jar would hand one person's Label Studio session to the next
_NO_COOKIES = CookieJar(policy=_RefuseAll())


def workspaces(request: Request) -> Workspaces:
    return request.app.state.workspaces


def upstream_client(request: Request) -> httpx.AsyncClient:
    client = getattr(request.app.state, "gateway_client", None)
    if client is None:
        client = httpx.AsyncClient(follow_redirects=False, timeout=httpx.Timeout(10.0, read=600.0, write=600.0),
                                   limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
                                   cookies=_NO_COOKIES)
        request.app.state.gateway_client = client
    return client


def _not_found(name: str) -> JSONResponse:
    return JSONResponse({"detail": f"no workspace {name!r} here; check the address you were given"}, status_code=404)


def _waiting(request: Request, found: Workspace) -> Response:
    if found.state is WorkspaceState.FAILED:
        detail = "Your workspace could not be started; the curator has been told. Trying again shortly."
    elif found.waiting:
        detail = f"Your workspace is starting; {found.waiting} other workspace(s) start before it."
    else:
        detail = "Your workspace is starting."
    headers = {"Retry-After": str(RETRY_S), "Cache-Control": "no-store"}
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(_STARTING.format(retry=RETRY_S, detail=escape(detail)), status_code=503, headers=headers)
    return JSONResponse({"detail": detail, "state": found.state.value, "retry_after": RETRY_S},
                        status_code=503, headers=headers)


def forwarded_headers(request: Request) -> list[tuple[str, str]]:
    """The request's headers for the instance: no hop-by-hop headers, no mmcurate cookie, forwarding added."""
    out: list[tuple[str, str]] = []
    for key, value in request.headers.items():
        lower = key.lower()
        if lower in HOP_BY_HOP or lower in ("content-length", "x-forwarded-for", "x-forwarded-proto",
                                            "x-forwarded-host", "forwarded"):
            continue
        if lower == "cookie":
            value = _without_cookie(value, TOKEN_COOKIE)
            if not value:
                continue
        out.append((key, value))
    client = request.client.host if request.client else ""
    out += [("X-Forwarded-For", client), ("X-Forwarded-Proto", request.url.scheme),
            ("X-Forwarded-Host", request.headers.get("host", ""))]
    return out


def _without_cookie(header: str, name: str) -> str:
    return "; ".join(p.strip() for p in header.split(";") if p.strip() and p.strip().split("=", 1)[0] != name)


def rewrite_location(location: str, prefix: str, upstream: str) -> str:
    """A redirect kept under ``prefix``: the instance's own address or a bare path moves under it."""
    parts = urlsplit(location)
    if parts.scheme and parts.netloc:
        if f"{parts.scheme}://{parts.netloc}" != upstream:
            return location  # somewhere else entirely (or the public address Label Studio already built)
        location = parts.path + (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
    if location.startswith("/") and not location.startswith("//") and not (
            location == prefix or location.startswith(prefix + "/") or location.startswith(prefix + "?")):
        return prefix + location
    return location


def rewrite_set_cookie(header: str, prefix: str, secure: bool = False) -> str:
    """A cookie kept to this instance's path (and to no other domain); ``Secure`` when the browser came over https."""
    parts = [p.strip() for p in header.split(";")]
    out = [parts[0]]
    has_path = False
    for attribute in parts[1:]:
        key = attribute.split("=", 1)[0].strip().lower()
        if key == "domain" or (key == "secure" and secure):
            continue
        if key == "path":
            has_path = True
            path = attribute.split("=", 1)[1].strip() if "=" in attribute else "/"
            if not (path == prefix or path.startswith(prefix + "/")):
                path = prefix + (path if path.startswith("/") else "/" + path)
            attribute = f"Path={path}"
        out.append(attribute)
    if not has_path:
        out.append(f"Path={prefix}/")
    if secure:
        out.append("Secure")
    return "; ".join(out)


@router.api_route(GATEWAY_PREFIX + "/{name}", methods=METHODS)
async def workspace_root(name: str, request: Request) -> Response:
    """``/a/<name>`` → ``/a/<name>/`` (cookies are scoped to the path with its slash)."""
    if not NAME.match(name):
        return _not_found(name)
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"{GATEWAY_PREFIX}/{name}/{query}", status_code=307)


@router.api_route(GATEWAY_PREFIX + "/{name}/{path:path}", methods=METHODS)
async def proxy(name: str, path: str, request: Request) -> Response:
    """Forward one request to ``name``'s instance (started first when it is down) and stream its answer back."""
    if not NAME.match(name):
        return _not_found(name)
    spaces = workspaces(request)
    found = await run_in_threadpool(spaces.lookup, name)
    if found.state is WorkspaceState.UNKNOWN:
        return _not_found(name)
    if found.state is not WorkspaceState.UP or found.instance is None:
        return _waiting(request, found)
    await run_in_threadpool(spaces.touch, name)
    prefix = f"{GATEWAY_PREFIX}/{name}"
    raw_path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    tail = _PREFIXED.sub("", raw_path, count=1) or "/"  # as sent (still percent-encoded), minus /a/<name>
    query = request.scope.get("query_string", b"").decode("latin-1")
    target = found.instance.url + tail + (f"?{query}" if query else "")
    client = upstream_client(request)
    # read whole (Label Studio's server takes no chunked bodies; an annotator's requests are small JSON or forms,
    # and uploads are refused inside the instance anyway)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return JSONResponse({"detail": f"request body over {MAX_BODY // 2**20} MB"}, status_code=413)
    outgoing = client.build_request(request.method, target, headers=forwarded_headers(request), content=body or None)
    try:
        upstream = await client.send(outgoing, stream=True)
    except httpx.ConnectError:
        spaces.mark_down(name)  # stopped meanwhile (by a command, or it died): start it again
        return _waiting(request, await run_in_threadpool(spaces.lookup, name))
    except httpx.TimeoutException:
        return JSONResponse({"detail": "your workspace did not answer in time; try again"}, status_code=504)
    headers: list[tuple[str, str]] = []
    for key, value in upstream.headers.multi_items():
        lower = key.lower()
        if lower in HOP_BY_HOP or lower in ("date", "server"):  # the gateway's own server sets these
            continue
        if lower == "location":
            value = rewrite_location(value, prefix, found.instance.url)
        elif lower == "set-cookie":
            value = rewrite_set_cookie(value, prefix, secure=request.url.scheme == "https")
        headers.append((key, value))
    response = StreamingResponse(upstream.aiter_raw(), status_code=upstream.status_code,
                                 background=BackgroundTask(upstream.aclose))
    response.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return response

