"""The HTTP API: health is open, everything else needs a live bearer token; errors are readable JSON."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from backend.api.app import create_app
from backend.db.models import Item, MediaAsset, Project, Source, UtteranceRow
from backend.db.session import session_scope
from backend.services import tokens as token_service
from backend.settings import Settings


@pytest.fixture
def client(any_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(any_settings)) as test_client:
        yield test_client


@pytest.fixture
def token(any_settings: Settings) -> str:
    with session_scope(any_settings.sqlalchemy_url) as session:
        _record, plaintext = token_service.create_token(session, "tests")
    return plaintext


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_health_needs_no_token(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] == "up"


def test_openapi_lists_the_project_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/projects" in paths and "/projects/{project_id}/utterances" in paths


@pytest.mark.parametrize("path", ["/projects", "/projects/1", "/projects/1/sources", "/projects/1/utterances"])
def test_requests_without_a_token_get_401(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert "bearer token" in response.json()["detail"]


def test_a_wrong_or_revoked_token_gets_401(client: TestClient, any_settings: Settings, token: str) -> None:
    assert client.get("/projects", headers=auth("mmc_wrong")).status_code == 401
    with session_scope(any_settings.sqlalchemy_url) as session:
        record = token_service.verify_token(session, token)
        assert record is not None
        token_service.revoke_token(session, record.id)
    assert client.get("/projects", headers=auth(token)).status_code == 401


def test_project_crud(client: TestClient, token: str) -> None:
    created = client.post("/projects", json={"name": "dravidian", "languages": ["ta", "ml"], "schemes": ["sentiment3"]}, headers=auth(token))
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["languages"] == ["ta", "ml"]

    listed = client.get("/projects", headers=auth(token)).json()
    assert listed["total"] == 1 and listed["items"][0]["name"] == "dravidian"

    patched = client.patch(f"/projects/{project['id']}", json={"languages": ["ta", "ml", "en"]}, headers=auth(token))
    assert patched.status_code == 200 and patched.json()["languages"] == ["ta", "ml", "en"]
    assert patched.json()["schemes"] == ["sentiment3"]

    assert client.delete(f"/projects/{project['id']}", headers=auth(token)).status_code == 204
    assert client.get(f"/projects/{project['id']}", headers=auth(token)).status_code == 404


def test_a_projects_speaker_count_hint_is_set_changed_and_cleared(client: TestClient, token: str) -> None:
    created = client.post("/projects", json={"name": "meld", "speakers": {"min_speakers": 2, "max_speakers": 6}},
                          headers=auth(token))
    assert created.status_code == 201 and created.json()["speakers"] == {"min_speakers": 2, "max_speakers": 6}
    url = f"/projects/{created.json()['id']}"
    assert client.patch(url, json={"speakers": {"num_speakers": 2}}, headers=auth(token)).json()["speakers"] == \
        {"num_speakers": 2}
    assert client.patch(url, json={"languages": ["en"]}, headers=auth(token)).json()["speakers"] == {"num_speakers": 2}
    bad = client.patch(url, json={"speakers": {"min_speakers": 4, "max_speakers": 3}}, headers=auth(token))
    assert bad.status_code == 422 and "min_speakers (4) is more than max_speakers (3)" in bad.json()["detail"]
    assert client.patch(url, json={"speakers": {"num_speakers": 0}}, headers=auth(token)).status_code == 422
    assert client.patch(url, json={"speakers": {}}, headers=auth(token)).json()["speakers"] == {}


def test_bad_body_gets_422_with_a_readable_message(client: TestClient, token: str) -> None:
    response = client.post("/projects", json={"languages": "ta"}, headers=auth(token))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "name" in detail and "languages" in detail


def test_bad_language_code_gets_422_naming_it(client: TestClient, token: str) -> None:
    response = client.post("/projects", json={"name": "x", "languages": ["Tamil!"]}, headers=auth(token))
    assert response.status_code == 422
    assert "'Tamil!'" in response.json()["detail"]


def test_duplicate_project_gets_409(client: TestClient, token: str) -> None:
    assert client.post("/projects", json={"name": "memes"}, headers=auth(token)).status_code == 201
    response = client.post("/projects", json={"name": "memes"}, headers=auth(token))
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]


def test_unknown_project_gets_404(client: TestClient, token: str) -> None:
    response = client.get("/projects/999/sources", headers=auth(token))
    assert response.status_code == 404
    assert "999" in response.json()["detail"]


def _seed_utterances(session: Session) -> int:
    project = Project(name="dialogues", languages=["zh"], schemes=[], allowed_licences=[])
    session.add(project)
    session.flush()
    sources = []
    for n in range(3):
        source = Source(project_id=project.id, kind="file", uri=f"/d{n}.wav", content_hash=f"h{n}",
                        status="done" if n < 2 else "failed", error=None if n < 2 else "no audio stream")
        session.add(source)
        session.flush()
        sources.append(source)
    asset = MediaAsset(project_id=project.id, source_id=sources[0].id, content_hash="h0", path="/d0.wav")
    session.add(asset)
    session.flush()
    for index in range(5):
        item = Item(project_id=project.id, source_id=sources[0].id, kind="clip", dialogue_id="d0", turn_index=index,
                    text=f"line {index}", language="zh" if index % 2 else "en")
        session.add(item)
        session.flush()
        session.add(UtteranceRow(item_id=item.id, asset_id=asset.id, start_ms=index * 2000, end_ms=index * 2000 + 1500,
                              speaker_label=f"SPEAKER_{index % 2}"))
    session.flush()
    return project.id


def test_sources_and_utterances_are_paginated_and_filtered(client: TestClient, any_settings: Settings, token: str) -> None:
    with session_scope(any_settings.sqlalchemy_url) as session:
        project_id = _seed_utterances(session)

    failed = client.get(f"/projects/{project_id}/sources", params={"status": "failed"}, headers=auth(token)).json()
    assert failed["total"] == 1 and failed["items"][0]["error"] == "no audio stream"

    page = client.get(f"/projects/{project_id}/utterances", params={"limit": 2, "offset": 2}, headers=auth(token)).json()
    assert page["total"] == 5
    assert [u["index"] for u in page["items"]] == [2, 3]
    assert page["items"][0]["start"] == 4.0 and page["items"][0]["end"] == 5.5

    chinese = client.get(f"/projects/{project_id}/utterances", params={"language": "zh"}, headers=auth(token)).json()
    assert chinese["total"] == 2 and all(u["speaker"] == "SPEAKER_1" for u in chinese["items"])

    too_big = client.get(f"/projects/{project_id}/utterances", params={"limit": 5000}, headers=auth(token))
    assert too_big.status_code == 422


def test_a_person_logs_in_once_and_reads_pages_with_the_cookie(client: TestClient, token: str) -> None:
    assert "API token" in client.get("/login").text
    refused = client.post("/login", data={"token": "mmc_nope", "next": "/projects"}, follow_redirects=False)
    assert refused.status_code == 401 and "Unknown or revoked token" in refused.text

    accepted = client.post("/login", data={"token": token, "next": "https://evil.example/"}, follow_redirects=False)
    assert accepted.status_code == 303 and accepted.headers["location"] == "/docs"
    assert "httponly" in accepted.headers["set-cookie"].lower()
    assert client.get("/projects").status_code == 200  # the client keeps the cookie

    client.post("/logout", follow_redirects=False)
    client.cookies.clear()
    assert client.get("/projects").status_code == 401


BEYOND_64_BITS = "99999999999999999999"
MAX_OFFSET = 2**63 - 1  # OFFSET is 64-bit in SQLite and PostgreSQL
MAX_ID = 2**31 - 1  # ids are INTEGER columns (int4 in PostgreSQL)


def test_an_offset_beyond_64_bits_gets_422_not_500(client: TestClient, any_settings: Settings, token: str) -> None:
    """Regression (issue 11): ?offset=99999999999999999999 overflowed in the database driver (500)."""
    with session_scope(any_settings.sqlalchemy_url) as session:
        project_id = _seed_utterances(session)
    for path in ("/projects", f"/projects/{project_id}/sources", f"/projects/{project_id}/utterances"):
        response = client.get(path, params={"offset": BEYOND_64_BITS}, headers=auth(token))
        assert response.status_code == 422, (path, response.text)
        assert response.json()["detail"] == (
            f"invalid request: query.offset: Input should be less than or equal to {MAX_OFFSET}, "
            f"got '{BEYOND_64_BITS}'"
        )
        largest = client.get(path, params={"offset": MAX_OFFSET}, headers=auth(token))
        assert largest.status_code == 200 and largest.json()["items"] == [], (path, largest.text)


def _integer_parameters(client: TestClient) -> list[tuple[str, str, str, str]]:
    """(method, path template, parameter, where) for every integer path or query parameter of the API."""
    found = []
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                types = {schema.get("type")} | {option.get("type") for option in schema.get("anyOf", [])}
                if "integer" in types and parameter["in"] in ("path", "query"):
                    found.append((method, path, parameter["name"], parameter["in"]))
    return found


def test_every_integer_parameter_is_bounded(client: TestClient, any_settings: Settings, token: str) -> None:
    """Out-of-range ids and offsets on every route answer 422 (beyond 64 bits) or 404/200 (in range), never 500."""
    with session_scope(any_settings.sqlalchemy_url) as session:
        project_id = _seed_utterances(session)
    parameters = _integer_parameters(client)
    assert {("get", "/projects/{project_id}", "project_id", "path"), ("delete", "/projects/{project_id}", "project_id", "path"),
            ("get", "/projects/{project_id}/utterances", "source_id", "query"),
            ("get", "/projects/{project_id}/qa", "batch_id", "query")} <= set(parameters)
    for method, template, name, where in parameters:
        largest = MAX_OFFSET if name == "offset" else MAX_ID
        probes = [(BEYOND_64_BITS, {422}), (str(largest + 1), {422}), ("-1", {422}), (str(largest), {200, 404})]
        for value, expected in probes:
            if name == "limit" and value not in (BEYOND_64_BITS, "-1"):
                continue  # limit has its own small bound, tested above
            path_values = {"project_id": project_id, **({name: value} if where == "path" else {})}
            url = template.format(**path_values)
            params = {name: value} if where == "query" else {}
            body = {"json": {}} if method in ("patch", "post", "put") else {}
            response = client.request(method.upper(), url, params=params, headers=auth(token), **body)
            assert response.status_code in expected, (method, url, params, response.status_code, response.text)
            if response.status_code == 422 and value == BEYOND_64_BITS:
                assert f"{where}.{name}:" in response.json()["detail"] and BEYOND_64_BITS in response.json()["detail"]
    # the in-range probes found nothing and deleted nothing
    assert client.get(f"/projects/{project_id}", headers=auth(token)).status_code == 200
