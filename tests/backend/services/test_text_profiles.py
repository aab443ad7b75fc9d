"""Every stored text carries its profile; listings filter on it; the project's Chinese policy applies.

Expected values are worked out by hand from the strings (see each comment), not read back
from ``backend.language``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from backend.db import migrations
from backend.db.models import Item, Project, Source
from backend.db.session import engine_for
from backend.services import items as item_service
from backend.services import projects as project_service
from backend.services.text import apply_text_profile

TAMIL = "இந்த படம் நல்லா இருக்கு"  # "this film is good", Tamil script only
MIXED = "இந்த movie semma mass"  # Tamil + English + romanised Tamil
MALAYALAM_IN_DEVANAGARI = "विने विने"  # what Whisper base wrote for a Malayalam clip in the demo
TRADITIONAL = "這部電影很好看"  # "this film is good", Traditional characters
SIMPLIFIED = "这部电影很好看"


def _project_with_items(session: Session, **policy: object) -> tuple[Project, dict[str, Item]]:
    project = project_service.create_project(session, project_service.ProjectSpec(
        name="texts", languages=("ta", "ml", "zh", "en"), **policy))  # type: ignore[arg-type]
    source = Source(project_id=project.id, kind="text", uri="/texts.txt", content_hash="h")
    session.add(source)
    session.flush()
    items = {
        "tamil": Item(project_id=project.id, source_id=source.id, kind="text", text=TAMIL, language="ta"),
        "mixed": Item(project_id=project.id, source_id=source.id, kind="text", text=MIXED, language="ta"),
        "devanagari": Item(project_id=project.id, source_id=source.id, kind="text", text=MALAYALAM_IN_DEVANAGARI,
                           language="ml"),
        "zh": Item(project_id=project.id, source_id=source.id, kind="text", text=TRADITIONAL, language="zh"),
        "empty": Item(project_id=project.id, source_id=source.id, kind="image", text=None),
        "english": Item(project_id=project.id, source_id=source.id, kind="text",
                        text="The film was better than I expected", language="ta"),
    }
    session.add_all(items.values())
    session.flush()
    for item in items.values():
        apply_text_profile(item, project)
    session.commit()
    return project, items


def test_each_stored_text_gets_its_normalised_form_scripts_and_cmi(any_session: Session) -> None:
    _project, items = _project_with_items(any_session)
    tamil, mixed, zh = items["tamil"], items["mixed"], items["zh"]
    assert tamil.text == TAMIL and tamil.text_normalized == TAMIL
    assert tamil.dominant_script == "Tamil" and tamil.text_profile["scripts"] == {"Tamil": 1.0}
    assert tamil.cmi == 0.0
    # MIXED: 4 Tamil letters/marks (இ ந ் த) against 14 Latin letters (movie, semma, mass) -> Latin dominant;
    # words இந்த=ta, movie=en, semma=ta (romanised; the item is Tamil), mass=en -> n=4, u=0, max 2:
    # CMI = 100 * (1 - 2/4) = 50
    assert mixed.dominant_script == "Latin"
    assert mixed.text_profile["scripts"] == {"Latin": round(14 / 18, 4), "Tamil": round(4 / 18, 4)}
    assert mixed.cmi == 50.0
    assert [tuple(w) for w in mixed.text_profile["word_languages"]] == [
        ("இந்த", "ta"), ("movie", "en"), ("semma", "ta"), ("mass", "en")]
    assert items["devanagari"].dominant_script == "Devanagari"
    assert zh.dominant_script == "Han" and zh.text_profile["han_variant"] == "traditional"
    assert zh.text_normalized == TRADITIONAL  # no Chinese policy: kept as written
    assert items["empty"].text_normalized is None and items["empty"].cmi is None
    # the language read from the text is a check on the item's: English is always a candidate
    assert tamil.text_profile["language"] == "ta" and items["english"].text_profile["language"] == "en"
    assert items["devanagari"].text_profile["language"] != "ml"  # Devanagari text is not taken for Malayalam


def test_listings_filter_by_script_language_and_code_mixing(any_session: Session) -> None:
    project, items = _project_with_items(any_session)

    def ids(**filters: object) -> set[int]:
        return {r["id"] for r in item_service.list_items(any_session, project.name, **filters)}  # type: ignore[arg-type]

    assert ids(script="tamil") == {items["tamil"].id}  # any case
    assert ids(script="Latin") == {items["mixed"].id, items["english"].id}
    assert ids(script="Han") == {items["zh"].id}
    assert ids(cmi_min=1) == {items["mixed"].id}
    assert ids(language="ml", script="Devanagari") == {items["devanagari"].id}
    assert ids(language="ml", script="Malayalam") == set()
    record = next(r for r in item_service.list_items(any_session, project.name) if r["id"] == items["mixed"].id)
    assert record["text"] == MIXED and record["cmi"] == 50.0 and record["dominant_script"] == "Latin"
    assert set(record) >= {"text_normalized", "scripts", "han_variant", "text_language", "text_language_confidence"}


def test_a_project_that_normalises_chinese_to_simplified_keeps_the_raw_text(any_session: Session) -> None:
    project, items = _project_with_items(any_session, han_target="simplified")
    assert items["zh"].text == TRADITIONAL and items["zh"].text_normalized == SIMPLIFIED
    assert items["zh"].text_profile["han_variant"] == "simplified"  # of the normalised text

    project_service.update_project(any_session, project.name, project_service.ProjectChanges(
        han_target=None, fields_set=frozenset({"han_target"})))
    any_session.commit()
    any_session.refresh(items["zh"])
    assert items["zh"].text_normalized == TRADITIONAL and items["zh"].text == TRADITIONAL


def test_an_unknown_chinese_policy_is_refused_with_the_choices(any_session: Session) -> None:
    from backend.domain import ValidationError

    with pytest.raises(ValidationError, match="use simplified, traditional or none"):
        project_service.create_project(any_session, project_service.ProjectSpec(name="x", han_target="cantonese"))


def test_cli_filters_and_shows_the_profile(cli, session: Session) -> None:
    _project, items = _project_with_items(session)
    code, out, err = cli("items", "list", "--project", "texts", "--script", "Latin", "--cmi-min", "10", "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in rows] == [items["mixed"].id] and rows[0]["cmi"] == 50.0
    code, out, _ = cli("items", "list", "--project", "texts", "--cmi-min", "60", "--json")
    assert code == 0 and out.strip() == ""


def _profiled_by_migration(url: str) -> None:
    migrations.upgrade(url, "0004")
    with engine_for(url).begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO projects (id, name, languages, schemes, allowed_licences, created_at) "
            "VALUES (1, 'old', '[\"ml\"]', '[]', '[]', '2026-01-01 00:00:00')")
        connection.exec_driver_sql(
            "INSERT INTO sources (id, project_id, kind, uri, content_hash, status, extra, created_at) "
            "VALUES (1, 1, 'text', '/t.txt', 'h', 'done', '{}', '2026-01-01 00:00:00')")
        # a legacy chillu (ന + virama + ZWJ) and a stray zero-width space, as older input methods wrote them
        connection.execute(text(
            "INSERT INTO items (id, project_id, source_id, kind, text, reference, is_gold, filter_status, created_at) "
            "VALUES (1, 1, 1, 'text', :t, '{}', false, 'kept', '2026-01-01 00:00:00')"),
            {"t": "അവ\u0D28\u0D4D\u200D \u200bവന്നു"})
    migrations.upgrade(url, "head")
    with engine_for(url).connect() as connection:
        raw, normalized, script, cmi = connection.execute(text(
            "SELECT text, text_normalized, dominant_script, cmi FROM items WHERE id = 1")).one()
    assert raw == "അവ\u0D28\u0D4D\u200D \u200bവന്നു"  # kept as it was
    assert normalized == "അവ\u0D7B വന്നു"  # atomic chillu ൻ, no zero-width space
    assert script == "Malayalam" and cmi == 0.0
    migrations.downgrade(url, "0004")
    migrations.upgrade(url, "head")
    migrations.downgrade(url, "base")
    engine_for(url).dispose()


def test_sqlite_0005_profiles_the_texts_already_stored(tmp_path: Path) -> None:
    _profiled_by_migration(f"sqlite:///{tmp_path / 'p.db'}")


@pytest.mark.postgres
def test_postgres_0005_profiles_the_texts_already_stored(empty_postgres_url: str) -> None:
    _profiled_by_migration(empty_postgres_url)
