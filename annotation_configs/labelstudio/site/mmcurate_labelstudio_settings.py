"""Django settings of a Label Studio instance mmcurate runs for one annotator.

Label Studio's own settings, plus what its Community edition cannot be told through the
environment: a guard that keeps curator-only endpoints from the annotator (see
``mmcurate_labelstudio_guard``) and error responses that never carry server paths or
tracebacks. This file runs inside Label Studio's own virtual environment (it is put on
that process's PYTHONPATH with ``DJANGO_SETTINGS_MODULE`` naming it), so it imports nothing
of mmcurate.

Label Studio's settings module reads ``django.conf.settings`` while it is still being
imported (its Sentry set-up), and Django copies the settings module's values at that moment.
So the stock module is executed here, in this module's own namespace, and the two changes are
made beforehand, on the list and dict that its ``from core.settings.base import *`` shares.
"""

import importlib.util

import core.settings.base as _base  # Label Studio puts its package folder on sys.path before settings load

_base.MIDDLEWARE.append("mmcurate_labelstudio_guard.CuratorOnlyMiddleware")
_base.REST_FRAMEWORK["EXCEPTION_HANDLER"] = "mmcurate_labelstudio_guard.exception_handler"

_stock = importlib.util.find_spec("label_studio.core.settings.label_studio").origin
with open(_stock) as _source:
    exec(compile(_source.read(), _stock, "exec"), globals())  # noqa: S102 - Label Studio's own settings file

# Behind mmcurate's gateway an instance lives under a path of its own (LABEL_STUDIO_HOST ends in /a/<name>,
# which Label Studio turns into FORCE_SCRIPT_NAME). The gateway scopes every cookie to that path on the way out
# (mmcurate itself talks to the instance on loopback, where the cookies keep Path=/); the session cookie also
# carries the instance's name, so even a cookie set before the gateway existed cannot stand in for another's.
if globals().get("FORCE_SCRIPT_NAME"):
    SESSION_COOKIE_NAME = "sessionid_" + FORCE_SCRIPT_NAME.strip("/").replace("/", "_")  # noqa: F821 - stock settings

# Label Studio serves with Django's development server, which writes a response's headers and body in two
# sends; with Nagle's algorithm on, a client that reuses the connection (the gateway does) waits ~40 ms for
# the delayed ACK on almost every request. The server's own switch turns it off.
import django.core.servers.basehttp as _basehttp  # noqa: E402

_basehttp.WSGIRequestHandler.disable_nagle_algorithm = True

