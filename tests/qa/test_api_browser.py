"""The QA page the backend serves: auth, errors, and plots that really render in headless Chromium (Playwright)."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.db.models import Item
from backend.services import qa as qa_service
from backend.services import tokens as token_service
from tests.browser import chromium
from tests.qa.builders import as_csv, make_project, simulated_rows


@pytest.fixture
def project_with_run(session, tmp_path) -> tuple[int, str]:
    project, items = make_project(session)
    truths = [session.get(Item, i).reference["sentiment"] for i in items]
    path = tmp_path / "labels.csv"
    path.write_text(as_csv(simulated_rows(items, truths, (0.95, 0.9, 0.3))), encoding="utf-8")
    qa_service.import_judgements(session, "demo", path)
    qa_service.run_qa(session, "demo", qa_service.RunOptions(n_boot=100))
    _record, token = token_service.create_token(session, "qa-test")
    session.commit()
    return project.id, token


def test_page_needs_a_token_and_a_run(settings, session, project_with_run):
    project_id, token = project_with_run
    with TestClient(create_app(settings)) as client:
        assert client.get(f"/projects/{project_id}/qa").status_code == 401
        page = client.get(f"/projects/{project_id}/qa", headers={"Authorization": f"Bearer {token}"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "QA report — demo · sentiment3 · whole project" in page.text
        missing = client.get(f"/projects/{project_id}/qa?scheme=emotion7", headers={"Authorization": f"Bearer {token}"})
        assert missing.status_code == 404 and "no QA run for scheme 'emotion7'" in missing.json()["detail"]
        assert client.get("/projects/999/qa", headers={"Authorization": f"Bearer {token}"}).status_code == 404


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(settings) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


MEASURE = """
() => {
  const plots = [...document.querySelectorAll('svg.plot')].map(svg => {
    const box = svg.getBoundingClientRect();
    // every heat-map cell and every mark of a non-zero value must take up space on screen
    const marks = [...svg.querySelectorAll('rect.cell, rect.bar, circle.point')]
      .filter(m => m.classList.contains('cell') || parseFloat(m.dataset.value) > 0);
    const drawn = marks.filter(m => { const b = m.getBoundingClientRect(); return b.width > 0 && b.height > 0; });
    return {kind: svg.dataset.plot, width: box.width, height: box.height, marks: marks.length, drawn: drawn.length};
  });
  return {plots, verdict: document.querySelector('#verdict .verdict').textContent,
          ci: [...document.querySelectorAll('table.metrics td')].map(td => td.textContent).join(' | ')};
}
"""


@pytest.mark.browser
def test_headless_chromium_renders_the_served_report(served, project_with_run, tmp_path):
    from PIL import Image

    project_id, token = project_with_run
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 1600},
                                      extra_http_headers={"Authorization": f"Bearer {token}"})
        page = context.new_page()
        response = page.goto(f"{served}/projects/{project_id}/qa", wait_until="load")
        assert response is not None and response.status == 200
        seen = page.evaluate(MEASURE)
        png = page.screenshot(full_page=True)
    kinds = {p["kind"] for p in seen["plots"]}
    assert {"heatmap", "bars", "stacked", "lines"} <= kinds
    for plot in seen["plots"]:
        assert plot["width"] > 100 and plot["height"] > 50, plot
        assert plot["marks"] > 0 and plot["drawn"] == plot["marks"], plot
    assert seen["verdict"] in ("accept", "tentative", "reject")
    assert "(95%, 100 draws)" in seen["ci"]
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50, "the screenshot should show coloured plots, not a blank page"
    (tmp_path / "qa-page.png").write_bytes(png)
