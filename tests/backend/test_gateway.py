"""The annotators' gateway (issue 17): one address, ``/a/<pseudonym>/``, in front of instances that run only while used.

One world: the real app served by uvicorn on 127.0.0.2 (the gateway, and the webhook receiver
— an address no instance listens on), two annotators whose instances were stopped after they
were made (as every new instance is), a clip project pushed with k=1 to each of them, and a
video item pushed to ann-002. Everything an annotator does here goes through the gateway, with
nothing but the login they were given, the way their browser would.
"""

from __future__ import annotations

import http.client
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from annotation_configs.labelstudio import instances as ls
from annotation_configs.labelstudio.results import result_from_values
from annotation_configs.registry import load_registry
from backend.api.gateway import forwarded_headers, rewrite_location, rewrite_set_cookie
from backend.db.models import Annotation, Annotator, Item
from backend.services import annotation as service
from backend.services.annotation import lifecycle
from backend.services.annotation.gateway import Workspaces, WorkspaceState
from tests.backend.services.annotation_world import LiveReceiver, annotation_world, clip_project

pytestmark = pytest.mark.labelstudio
HOST = "127.0.0.2"
SENTIMENT = load_registry()["sentiment3"]
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def make_video(path: Path, seconds: float = 1.0) -> Path:
    """A real H.264 + AAC MP4 (a test pattern and a tone) made by ffmpeg."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size=160x120:rate=10:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=500:duration={seconds}", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(path)],
        check=True,
    )
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory, sqlite_template, ls_install, ls_template):
    port = ls.free_port()
    base = f"http://{HOST}:{port}"
    built = annotation_world(tmp_path_factory.mktemp("gateway"), sqlite_template, ls_install, ls_template,
                             public_url=base, annotator_url=base, webhook_secret="gateway-secret-for-tests")
    try:
        settings, home = built.settings, built.home
        with built.factory() as session:
            clip_project(session, settings.data_dir, "gw", 4)
            video = clip_project(session, settings.data_dir, "gw-video", 1)
            item = session.scalar(select(Item).where(Item.project_id == video.id))
            clip = make_video(settings.data_dir / "clips" / "gw-video-0.mp4")
            item.utterance.clip_video_path = str(clip)  # type: ignore[union-attr]
            logins = {n: service.add_annotator(session, settings, f"gw{n}@example.org", ["ta"], home=home) for n in (1, 2)}
            session.commit()
        assert not any(ls.is_running(r) for r in home.state().load().values())  # made, then stopped
        with built.factory() as session:
            service.push(session, settings, service.PushOptions("gw", "sentiment3", k=1), home=home)
            service.push(session, settings, service.PushOptions("gw", "sarcasm", k=1, annotators=("ann-001",),
                                                                gold_rate=0.0), home=home)
            service.push(session, settings, service.PushOptions("gw-video", "sarcasm", k=1, annotators=("ann-002",),
                                                                gold_rate=0.0), home=home)
            session.commit()
        assert not any(ls.is_running(r) for r in home.state().load().values())  # the push stopped what it started
        with LiveReceiver(settings, port, HOST) as server:
            yield {"settings": settings, "home": home, "factory": built.factory, "base": base, "server": server,
                   "logins": {f"ann-00{n}": login for n, login in logins.items()}}
    finally:
        built.close()  # also when the set-up fails half-way: no instance outlives the module


def _wait_up(world, name: str) -> None:
    spaces: Workspaces = world["server"].app.state.workspaces
    assert spaces.wait_started(name).state is WorkspaceState.UP


@contextmanager
def _browser(world, name: str) -> Iterator[httpx.Client]:
    """An httpx client logged in to ``name``'s workspace through the gateway's login form (cookies kept by path)."""
    login = world["logins"][name]
    _wait_up(world, name)
    with httpx.Client(base_url=world["base"], timeout=60) as client:
        page = client.get(f"/a/{name}/user/login/")
        assert page.status_code == 200, page.text[:300]
        done = client.post(f"/a/{name}/user/login/", data={
            "csrfmiddlewaretoken": CSRF.search(page.text).group(1), "email": login.email, "password": login.password},
            headers={"Referer": f"{world['base']}/a/{name}/user/login/", "Origin": world["base"]})
        assert done.status_code == 302 and done.headers["location"].startswith(f"/a/{name}/"), done.headers
        yield client


def _token(world, name: str) -> str:
    with _browser(world, name) as client:
        return client.get(f"/a/{name}/api/current-user/token").json()["token"]


def test_unknown_and_malformed_names_are_404_and_the_curator_routes_keep_their_tokens(world) -> None:
    base = world["base"]
    assert httpx.get(f"{base}/a/nobody/").status_code == 404
    assert httpx.get(f"{base}/a/nobody/api/projects").status_code == 404
    assert httpx.get(f"{base}/a/.hidden/").status_code == 404
    assert httpx.get(f"{base}/a/").status_code == 404
    assert httpx.get(f"{base}/a/ann-001", follow_redirects=False).headers["location"] == "/a/ann-001/"
    assert httpx.get(f"{base}/projects").status_code == 401  # mmcurate's own API: bearer tokens only


def test_a_stopped_workspace_starts_on_the_first_request_and_shows_a_starting_page(world) -> None:
    home = world["home"]
    lifecycle.stop_instance(home, home.state().load()["ann-001"])
    world["server"].app.state.workspaces.mark_down("ann-001")
    first = httpx.get(f"{world['base']}/a/ann-001/", headers={"Accept": "text/html"})
    assert first.status_code == 503 and "Starting your workspace" in first.text
    assert first.headers["retry-after"] and 'http-equiv="refresh"' in first.text
    script = httpx.get(f"{world['base']}/a/ann-001/api/projects")  # a script's call: JSON, not a page
    assert script.status_code == 503 and script.json()["state"] == "starting"
    started = time.monotonic()
    _wait_up(world, "ann-001")
    assert time.monotonic() - started < 60
    page = httpx.get(f"{world['base']}/a/ann-001/user/login/")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"$]+)"', page.text)
    assert assets and all(a.startswith(f"{world['base']}/a/ann-001/") for a in assets if a.startswith("http"))
    for asset in [a for a in assets if "/static/" in a][:3]:  # static files are served under the prefix
        assert httpx.get(asset).status_code == 200, asset
    statuses = {s.name: s for s in service.instance_statuses(world["settings"], home=home)}
    assert statuses["ann-001"].running and statuses["ann-001"].url == f"{world['base']}/a/ann-001/"


def test_an_annotator_logs_in_through_the_gateway_and_sees_only_their_own_workspace(world) -> None:
    with _browser(world, "ann-001") as client:
        cookies = list(client.cookies.jar)
        assert cookies and all(c.path.startswith("/a/ann-001/") for c in cookies)  # scoped to the workspace
        own = client.get("/a/ann-001/api/projects")
        titles = {p["title"] for p in own.json()["results"]}
        assert own.status_code == 200 and "gw / sarcasm / audio" in titles and not any("video" in t for t in titles)
        _wait_up(world, "ann-002")
        other = client.get("/a/ann-002/api/projects")  # the browser sends ann-001's cookies only to /a/ann-001/
        assert other.status_code in (401, 403)
        token = client.get("/a/ann-001/api/current-user/token").json()["token"]
        # the gateway keeps no session of its own: someone without the cookies is not logged in
        assert httpx.get(f"{world['base']}/a/ann-001/api/current-user/whoami").status_code == 401
        assert httpx.get(f"{world['base']}/a/ann-001/user/login/").status_code == 200
    headers = {"Authorization": f"Token {token}"}
    assert httpx.get(f"{world['base']}/a/ann-001/api/projects", headers=headers).status_code == 200
    assert httpx.get(f"{world['base']}/a/ann-002/api/projects", headers=headers).status_code == 401
    # a path that tries to climb out of its workspace stays in the workspace its name gives
    connection = http.client.HTTPConnection(HOST, int(world["base"].rsplit(":", 1)[1]), timeout=30)
    for path in ("/a/ann-002/../ann-001/api/projects", "/a/ann-002/%2e%2e/ann-001/api/projects",
                 "/a/ann-002/..%2f..%2fa/ann-001/api/projects"):
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        assert response.status != 200 or b"gw / sentiment3" not in body, path
    connection.close()


def test_two_workspaces_open_in_one_browser_keep_both_logins(world) -> None:
    """An adjudicator who also annotates: logging in to a second workspace does not log them out of the first."""
    with _browser(world, "ann-001") as client, _browser(world, "ann-002") as second:
        for cookie in second.cookies.jar:  # one cookie jar: the browser's
            client.cookies.jar.set_cookie(cookie)
        for name in ("ann-001", "ann-002"):
            me = client.get(f"/a/{name}/api/current-user/whoami")
            assert me.status_code == 200 and me.json()["email"] == world["logins"][name].email


def test_curator_only_endpoints_stay_refused_under_the_prefix(world) -> None:
    headers = {"Authorization": f"Token {_token(world, 'ann-001')}"}
    base = f"{world['base']}/a/ann-001"
    assert httpx.get(f"{base}/api/webhooks/", headers=headers).status_code == 403
    assert httpx.post(f"{base}/api/storages/localfiles/", headers=headers,
                      json={"path": "/", "project": 1, "title": "x"}).status_code == 403
    assert httpx.get(f"{base}/api/invite", headers=headers).status_code == 403
    assert httpx.get(f"{base}/data/local-files/?d=../../secrets.json", headers=headers).status_code == 404


def test_media_urls_live_under_the_workspace_and_load_only_there(world) -> None:
    with _browser(world, "ann-001") as client:
        project = next(p["id"] for p in client.get("/a/ann-001/api/projects").json()["results"]
                       if p["title"] == "gw / sentiment3 / audio")
        task = client.get("/a/ann-001/api/tasks", params={"project": project}).json()["tasks"][0]
        url = task["data"]["audio"]
        assert url.startswith("/a/ann-001/data/local-files/?d=clips/"), url
        media = client.get(url)
        assert media.status_code == 200 and media.content[:4] == b"RIFF"
        _wait_up(world, "ann-002")
        assert client.get(url.replace("/a/ann-001/", "/a/ann-002/")).status_code in (401, 403, 404)
    assert httpx.get(f"{world['base']}{url}").status_code in (401, 403)  # not without the login


def test_the_mmcurate_login_cookie_is_never_passed_to_label_studio() -> None:
    from starlette.requests import Request

    scope = {"type": "http", "method": "GET", "path": "/a/ann-001/", "query_string": b"", "scheme": "https",
             "client": ("203.0.113.9", 5555), "server": ("gw", 443),
             "headers": [(b"host", b"curate.example.org"), (b"cookie", b"mmcurate_token=secret; csrftoken=abc"),
                         (b"connection", b"keep-alive"), (b"x-forwarded-for", b"6.6.6.6")]}
    headers = dict(forwarded_headers(Request(scope)))
    assert headers["cookie"] == "csrftoken=abc"
    assert "connection" not in headers and headers["X-Forwarded-For"] == "203.0.113.9"
    assert headers["X-Forwarded-Proto"] == "https" and headers["X-Forwarded-Host"] == "curate.example.org"


def test_redirects_and_cookies_are_kept_under_the_workspace_prefix() -> None:
    upstream = "http://127.0.0.1:40001"
    assert rewrite_location("/user/login/?next=/projects/", "/a/ann-001", upstream) == "/a/ann-001/user/login/?next=/projects/"
    assert rewrite_location("/a/ann-001/projects/", "/a/ann-001", upstream) == "/a/ann-001/projects/"
    assert rewrite_location(f"{upstream}/projects/", "/a/ann-001", upstream) == "/a/ann-001/projects/"
    assert rewrite_location("https://labelstud.io/guide", "/a/ann-001", upstream) == "https://labelstud.io/guide"
    assert rewrite_location("//evil.example/x", "/a/ann-001", upstream) == "//evil.example/x"
    assert rewrite_set_cookie("csrftoken=a; Path=/; SameSite=Lax", "/a/ann-001") == "csrftoken=a; Path=/a/ann-001/; SameSite=Lax"
    assert rewrite_set_cookie("s=1; Domain=.example.org; HttpOnly", "/a/ann-001") == "s=1; HttpOnly; Path=/a/ann-001/"
    assert rewrite_set_cookie("s=1; Path=/a/ann-001/", "/a/ann-001") == "s=1; Path=/a/ann-001/"
    assert rewrite_set_cookie("s=1; Path=/a/ann-0010/", "/a/ann-001") == "s=1; Path=/a/ann-001/a/ann-0010/"
    assert rewrite_set_cookie("s=1; Path=/; secure", "/a/ann-001", secure=True) == "s=1; Path=/a/ann-001/; Secure"


def test_an_idle_workspace_is_stopped_after_its_judgements_are_stored_and_comes_back(world) -> None:
    settings, home, spaces = world["settings"], world["home"], world["server"].app.state.workspaces
    token = _token(world, "ann-001")
    headers = {"Authorization": f"Token {token}"}
    base = f"{world['base']}/a/ann-001"
    project = next(p["id"] for p in httpx.get(f"{base}/api/projects", headers=headers).json()["results"]
                   if p["title"] == "gw / sentiment3 / audio")
    task = httpx.get(f"{base}/api/tasks", params={"project": project}, headers=headers).json()["tasks"][0]
    if not httpx.get(f"{base}/api/tasks/{task['id']}", headers=headers).json()["annotations"]:
        made = httpx.post(f"{base}/api/tasks/{task['id']}/annotations/", headers=headers, json={
            "result": result_from_values(SENTIMENT, {"sentiment": "negative"}, "audio"), "lead_time": 2.0})
        assert made.status_code == 201, made.text
    assert "ann-001" not in [r.name for r in spaces.idle()]  # just used
    assert "ann-001" in spaces.reap(now=time.time() + home.idle_s + 1)
    record = home.state().load()["ann-001"]
    assert not ls.is_running(record)
    with world["factory"]() as session:  # stored before the stop, without any pull
        annotator = session.scalar(select(Annotator).where(Annotator.pseudonym == "ann-001"))
        values = [a.values for a in session.scalars(select(Annotation).where(Annotation.annotator_id == annotator.id))]
    assert {"sentiment": "negative"} in values
    assert lifecycle.synced_projects(home, record)  # its database state is recorded as reconciled
    used = lifecycle.last_activity(home, "ann-001")
    with world["factory"]() as session:
        service.pull(session, settings, "gw", home=home)
        session.commit()
    assert not ls.is_running(home.state().load()["ann-001"])  # nothing changed there: the pull did not start it
    assert lifecycle.last_activity(home, "ann-001") == used
    assert httpx.get(f"{base}/api/projects", headers=headers).status_code == 503  # the next request starts it
    _wait_up(world, "ann-001")
    assert httpx.get(f"{base}/api/projects", headers=headers).status_code == 200


def test_an_open_task_keeps_a_workspace_up_past_the_idle_time(world) -> None:
    home, spaces = world["home"], world["server"].app.state.workspaces
    headers = {"Authorization": f"Token {_token(world, 'ann-002')}"}
    base = f"{world['base']}/a/ann-002"
    project = next(p["id"] for p in httpx.get(f"{base}/api/projects", headers=headers).json()["results"]
                   if p["title"].startswith("gw / sentiment3"))
    opened = httpx.get(f"{base}/api/projects/{project}/next", headers=headers)  # the labeling view opens a task
    assert opened.status_code == 200, opened.text
    record = home.state().load()["ann-002"]
    assert lifecycle.open_tasks(record) == 1
    assert "ann-002" not in [r.name for r in spaces.idle(now=time.time() + home.idle_s + 1)]
    assert "ann-002" in [r.name for r in spaces.idle(now=time.time() + 4 * home.idle_s + 1)]


def test_at_the_running_limit_a_start_stops_the_least_recently_used_idle_workspace(world) -> None:
    settings, home = world["settings"], world["home"]
    offset = [0.0]
    limited = Workspaces(settings.model_copy(update={"max_running_instances": 1}), home,
                         clock=lambda: time.time() + offset[0])
    try:
        for record in home.state().load().values():
            if ls.is_running(record):
                lifecycle.stop_instance(home, record)
        assert limited.wait_started("ann-001").state is WorkspaceState.UP
        limited.touch("ann-001")
        offset[0] = 10.0  # used a moment ago: not evictable, so ann-002 waits
        assert limited.lookup("ann-002").state is WorkspaceState.STARTING
        time.sleep(3)
        assert limited.lookup("ann-002").state is WorkspaceState.STARTING
        assert [r.name for r in limited.running()] == ["ann-001"]
        offset[0] = 10_000.0  # now long unused: it makes room
        assert limited.wait_started("ann-002").state is WorkspaceState.UP
        assert [r.name for r in limited.running()] == ["ann-002"]
    finally:
        limited.close()


@pytest.mark.browser
def test_two_annotators_label_audio_and_video_in_real_browsers_through_the_gateway(world, tmp_path: Path) -> None:
    """Playwright on Debian's Chromium: two browser contexts log in through the gateway; the audio and the
    video load from their workspaces; both judgements arrive by webhook, with no pull."""
    from tests.browser import chromium

    jobs = {"ann-001": "gw / sarcasm / audio", "ann-002": "gw-video / sarcasm / video"}
    with world["factory"]() as session:
        before = {p: session.scalar(select(Annotator.id).where(Annotator.pseudonym == p)) for p in jobs}
        counts = {p: len(list(session.scalars(select(Annotation).where(Annotation.annotator_id == a))))
                  for p, a in before.items()}
    with chromium() as browser:
        for name, title in jobs.items():
            login = world["logins"][name]
            context = browser.new_context()
            page = context.new_page()
            try:
                page.goto(f"{world['base']}/a/{name}/", timeout=120_000)  # may show the starting page first
                page.wait_for_selector("input[name=email]", timeout=120_000)
                page.fill("input[name=email]", login.email)
                page.fill("input[name=password]", login.password)
                page.click("button[type=submit], input[type=submit]")
                page.wait_for_url(lambda url: "/user/login" not in url, timeout=60_000)
                assert page.url.startswith(f"{world['base']}/a/{name}/")
                projects = page.request.get(f"{world['base']}/a/{name}/api/projects").json()["results"]
                project = next(p["id"] for p in projects if p["title"] == title)
                with page.expect_response(lambda r: "/data/local-files/" in r.url and r.status in (200, 206),
                                          timeout=60_000) as loaded:
                    page.goto(f"{world['base']}/a/{name}/projects/{project}/data?labeling=1")
                    page.get_by_text("Labeling Instructions").wait_for(timeout=60_000)
                    page.keyboard.press("Escape")
                assert loaded.value.url.startswith(f"{world['base']}/a/{name}/data/local-files/")  # the media loaded
                page.get_by_text(re.compile(r"^sarcastic")).first.click(timeout=60_000)
                page.get_by_role("button", name="Submit current annotation").click()
                page.wait_for_timeout(1500)
            except Exception:
                page.screenshot(path=str(tmp_path / f"{name}.png"))
                raise AssertionError(f"{name} failed at {page.url}; screenshot {tmp_path / name}.png") from None
            finally:
                if name != "ann-001":
                    context.close()
        # ann-001's tab stays open while their workspace goes idle and is stopped; the next page comes back to them
        spaces, home = world["server"].app.state.workspaces, world["home"]
        kept = browser.contexts[0].pages[0]
        assert "ann-001" in spaces.reap(now=time.time() + 5 * home.idle_s)
        assert not ls.is_running(home.state().load()["ann-001"])
        kept.goto(f"{world['base']}/a/ann-001/projects/", timeout=60_000)
        assert "Starting your workspace" in kept.content()
        kept.wait_for_url(lambda url: "/projects" in url, timeout=120_000)
        kept.wait_for_function("!document.title.includes('Starting')", timeout=120_000)
        assert "/user/login" not in kept.url  # still logged in: the session outlived the stop
        browser.contexts[0].close()
    world["server"].settled()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with world["factory"]() as session:
            now = {p: len(list(session.scalars(select(Annotation).where(Annotation.annotator_id == a))))
                   for p, a in before.items()}
        if all(now[p] > counts[p] for p in jobs):
            break
        world["server"].settled()
        time.sleep(0.5)
    assert all(now[p] == counts[p] + 1 for p in jobs), (counts, now)
    with world["factory"]() as session:
        latest = [session.scalars(select(Annotation).where(Annotation.annotator_id == a).order_by(Annotation.id.desc())
                                  ).first() for a in before.values()]
    assert [a.values for a in latest] == [{"sarcasm": "sarcastic"}] * 2
    assert all(a.lead_time_s and a.lead_time_s > 0 for a in latest)  # the time the person spent, from the UI



def test_a_new_address_moves_the_media_urls_of_tasks_already_pushed(world) -> None:
    """Tasks keep the media URL written at push; when the workspace's address changes (a new annotator URL, or
    tasks pushed before the gateway existed) they are rewritten on the next start."""
    from dataclasses import replace

    from backend.services.annotation.home import admin_client

    home = world["home"]

    def media_urls() -> list[str]:
        record = home.state().load()["ann-002"]
        client = admin_client(record)
        return [t["data"].get("audio") or t["data"].get("video")
                for p in client.project_ids() for t in client.export_tasks(p)]

    moved = replace(home, gateway_url="https://annotate.example.org/lab")
    # what people are told follows the configuration at once; each instance follows on its next start
    assert {s.url for s in service.instance_statuses(world["settings"], home=moved)} == {
        f"https://annotate.example.org/lab/a/{name}/" for name in home.state().load()}
    lifecycle.ensure_running(moved, home.state().load()["ann-002"])
    assert media_urls() and all(u.startswith("/lab/a/ann-002/data/local-files/?d=clips/") for u in media_urls())
    world["server"].app.state.workspaces.mark_down("ann-002")
    lifecycle.ensure_running(home, home.state().load()["ann-002"])
    assert all(u.startswith("/a/ann-002/data/local-files/?d=clips/") for u in media_urls())


def test_a_workspace_whose_port_was_taken_while_it_was_stopped_starts_on_another(world) -> None:
    import socket
    from dataclasses import replace

    home = world["home"]
    _wait_up(world, "ann-002")  # no start of it in flight
    stopped = lifecycle.stop_instance(home, home.state().load()["ann-002"])
    world["server"].app.state.workspaces.mark_down("ann-002")
    with socket.socket() as squatter:  # another program listens on the port on record
        squatter.bind((ls.HOST, 0))
        squatter.listen()
        record = replace(stopped, port=squatter.getsockname()[1])
        home.save(record)
        started = lifecycle.ensure_running(home, record)
        assert started.port != record.port and ls.is_running(started)
        assert home.state().load()["ann-002"].port == started.port
    _wait_up(world, "ann-002")
    assert httpx.get(f"{world['base']}/a/ann-002/user/login/").status_code == 200
