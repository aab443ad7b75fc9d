"""The gateway behind a standard reverse proxy, as deployed: Debian's nginx with TLS, running
``docs/deploy/nginx-gateway.conf`` itself (host name, ports and certificate replaced).

The annotator's public address is ``https://127.0.0.3:<port>/a/<pseudonym>/``; ``mmcurate serve``
(the real app under uvicorn) listens on 127.0.0.2 and nginx on 127.0.0.3 with a self-signed
certificate. A real Chromium logs in and opens the labeling view through nginx.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from annotation_configs.labelstudio import instances as ls
from backend.services import annotation as service
from tests.backend.services.annotation_world import LiveReceiver, annotation_world, clip_project

pytestmark = pytest.mark.labelstudio
CONFIG = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "nginx-gateway.conf"
GATEWAY_HOST, PROXY_HOST = "127.0.0.2", "127.0.0.3"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def render_config(gateway: str, port: int, certificate: Path, key: Path) -> str:
    """The documented configuration with this machine's values in place of the example ones."""
    text = CONFIG.read_text()
    for example, value in (("listen 443 ssl;", f"listen {PROXY_HOST}:{port} ssl;"),
                           ("listen 80;", f"listen {PROXY_HOST}:{ls.free_port()};"),
                           ("annotate.example.org.pem", "CERT"), ("annotate.example.org.key", "KEY"),
                           ("/etc/ssl/certs/CERT", str(certificate)), ("/etc/ssl/private/KEY", str(key)),
                           ("annotate.example.org", PROXY_HOST), ("http://127.0.0.2:8765", gateway)):
        assert example in text, f"{CONFIG} no longer holds {example!r}"
        text = text.replace(example, value)
    return text


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    """nginx running the documented server blocks; yields (public base URL, gateway port)."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(binary).exists(), "nginx is missing: scripts/bootstrap installs Debian's nginx"
    root = tmp_path_factory.mktemp("nginx")
    key, certificate = root / "key.pem", root / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
                    "-out", str(certificate), "-subj", f"/CN={PROXY_HOST}", "-addext", f"subjectAltName=IP:{PROXY_HOST}"],
                   check=True, capture_output=True)
    gateway_port, port = ls.free_port(), ls.free_port()
    servers = render_config(f"http://{GATEWAY_HOST}:{gateway_port}", port, certificate, key)
    (root / "nginx.conf").write_text(
        f"worker_processes 1;\nerror_log {root}/error.log;\npid {root}/nginx.pid;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n  access_log {root}/access.log;\n  client_body_temp_path {root}/body;\n"
        f"  proxy_temp_path {root}/proxy;\n{servers}\n}}\n")
    process = subprocess.Popen([binary, "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while not _listening(PROXY_HOST, port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"nginx did not start: {(root / 'error.log').read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    try:
        yield f"https://{PROXY_HOST}:{port}", gateway_port
    finally:
        process.terminate()
        process.wait(timeout=20)


def _listening(host: str, port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


@pytest.fixture(scope="module")
def world(nginx, tmp_path_factory, sqlite_template, ls_install, ls_template):
    public, gateway_port = nginx
    built = annotation_world(tmp_path_factory.mktemp("behind-nginx"), sqlite_template, ls_install, ls_template,
                             annotator_url=public, public_url=f"http://{GATEWAY_HOST}:{gateway_port}",
                             webhook_secret="nginx-secret-for-tests")
    try:
        with built.factory() as session:
            clip_project(session, built.settings.data_dir, "tls", 2)
            login = service.add_annotator(session, built.settings, "tls@example.org", ["ta"], home=built.home)
            session.commit()
        with built.factory() as session:
            service.push(session, built.settings, service.PushOptions("tls", "sarcasm", k=1, gold_rate=0.0), home=built.home)
            session.commit()
        with LiveReceiver(built.settings, gateway_port, GATEWAY_HOST) as server:
            yield {"public": public, "login": login, "server": server, "built": built}
    finally:
        built.close()  # also when the set-up fails half-way: no instance outlives the module


def test_the_documented_nginx_config_serves_a_workspace_over_tls(world) -> None:
    public, login = world["public"], world["login"]
    assert login.url == f"{public}/a/ann-001/"  # the address the annotator is given is the proxy's
    with httpx.Client(base_url=public, verify=False, timeout=60) as client:
        assert client.get("/projects").status_code == 404  # only /a/ is exposed on the annotators' host
        first = client.get("/a/ann-001/", headers={"Accept": "text/html"})
        assert first.status_code == 503 and "Starting your workspace" in first.text  # stopped until now
        deadline = time.monotonic() + 90
        while client.get("/a/ann-001/user/login/").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        page = client.get("/a/ann-001/user/login/")
        assert page.status_code == 200
        assert f'href="{public}/a/ann-001/static/' in page.text  # Label Studio builds its links on the public address
        done = client.post("/a/ann-001/user/login/", data={
            "csrfmiddlewaretoken": CSRF.search(page.text).group(1), "email": login.email, "password": login.password},
            headers={"Origin": public, "Referer": f"{public}/a/ann-001/user/login/"})
        assert done.status_code == 302 and done.headers["location"].startswith("/a/ann-001/")
        cookies = {c.name: c for c in client.cookies.jar}
        assert cookies and all(c.secure and c.path == "/a/ann-001/" for c in cookies.values())
        projects = client.get("/a/ann-001/api/projects").json()["results"]
        tasks = client.get("/a/ann-001/api/tasks", params={"project": projects[0]["id"]}).json()["tasks"]
        media = client.get(tasks[0]["data"]["audio"])
        assert media.status_code == 200 and media.content[:4] == b"RIFF"


@pytest.mark.browser
def test_a_browser_logs_in_and_labels_through_nginx(world, tmp_path: Path) -> None:
    from tests.browser import chromium

    public, login = world["public"], world["login"]
    with chromium() as browser:
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        try:
            page.goto(f"{public}/a/ann-001/", timeout=120_000)
            page.wait_for_selector("input[name=email]", timeout=120_000)
            page.fill("input[name=email]", login.email)
            page.fill("input[name=password]", login.password)
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_url(lambda url: "/user/login" not in url, timeout=60_000)
            projects = page.request.get(f"{public}/a/ann-001/api/projects").json()["results"]
            with page.expect_response(lambda r: "/data/local-files/" in r.url and r.status in (200, 206),
                                      timeout=60_000):
                page.goto(f"{public}/a/ann-001/projects/{projects[0]['id']}/data?labeling=1")
                page.get_by_text("Labeling Instructions").wait_for(timeout=60_000)
                page.keyboard.press("Escape")
            page.get_by_text(re.compile(r"^sarcastic")).first.click(timeout=60_000)
            page.get_by_role("button", name="Submit current annotation").click()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if page.request.get(f"{public}/a/ann-001/api/projects/{projects[0]['id']}").json().get(
                        "total_annotations_number"):
                    break
                time.sleep(0.5)
            else:
                raise AssertionError("the annotation was not saved")
        except Exception:
            page.screenshot(path=str(tmp_path / "nginx.png"))
            raise
        finally:
            context.close()
