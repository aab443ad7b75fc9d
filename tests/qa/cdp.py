"""A minimal Chrome DevTools Protocol client for browser tests: Debian's /usr/bin/chromium, headless.

No browser is downloaded; pages are opened with extra request headers (the API's bearer token),
then inspected with JavaScript and screenshots.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Page:
    """One tab, driven over its DevTools websocket."""

    def __init__(self, socket: Any) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._events: list[dict[str, Any]] = []  # events that arrived while waiting for a reply

    def send(self, method: str, params: Mapping[str, Any] | None = None, timeout: float = 30) -> dict[str, Any]:
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": dict(params or {})}))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self._socket.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def _next_event(self, deadline: float) -> dict[str, Any]:
        if self._events:
            return self._events.pop(0)
        return json.loads(self._socket.recv(timeout=max(deadline - time.monotonic(), 0.1)))

    def wait_for(self, event: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            message = self._next_event(deadline)
            if message.get("method") == event:
                return message.get("params", {})

    def open(self, url: str, headers: Mapping[str, str] | None = None) -> int:
        """Navigate and wait for the load event; returns the HTTP status of the document."""
        self.send("Network.enable")
        self.send("Page.enable")
        self._events.clear()
        if headers:
            self.send("Network.setExtraHTTPHeaders", {"headers": dict(headers)})
        self.send("Page.navigate", {"url": url})
        status = None
        deadline = time.monotonic() + 60
        while True:
            message = self._next_event(deadline)
            method = message.get("method")
            if method == "Network.responseReceived" and message["params"].get("type") == "Document":
                status = message["params"]["response"]["status"]
            if method == "Page.loadEventFired":
                return int(status or 0)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self) -> bytes:
        return base64.b64decode(self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"])


@contextmanager
def chromium_page(profile: Path, width: int = 1280, height: int = 1600) -> Iterator[Page]:
    """A headless Chromium with a fresh profile in ``profile``; yields one page and closes the browser."""
    from websockets.sync.client import connect

    process = subprocess.Popen(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--remote-debugging-port=0", f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{CHROMIUM} did not open its DevTools port (exit code {process.poll()})")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        with urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            targets = json.loads(response.read())
        page = next((t for t in targets if t.get("type") == "page"), None)
        if page is None:
            with urlopen(Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT"), timeout=10) as response:
                page = json.loads(response.read())
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as socket:
            yield Page(socket)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
