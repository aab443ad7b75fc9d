"""The migration chain builds the whole schema on SQLite and PostgreSQL, reverses, and matches the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from backend.db import migrations
from backend.db.models import Base
from backend.db.session import engine_for

EXPECTED_TABLES = {t.name for t in Base.metadata.sorted_tables}


def _round_trip(url: str) -> None:
    migrations.upgrade(url, "head")
    engine = engine_for(url)
    assert EXPECTED_TABLES <= set(inspect(engine).get_table_names())
    assert migrations.current_revision(url) == migrations.head_revision(url)

    migrations.downgrade(url, "base")
    engine.dispose()
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert migrations.current_revision(url) is None

    migrations.upgrade(url, "head")
    engine.dispose()
    assert EXPECTED_TABLES <= set(inspect(engine).get_table_names())


def _drift(url: str) -> list[object]:
    with engine_for(url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_postgres_upgrade_downgrade_upgrade(empty_postgres_url: str) -> None:
    _round_trip(empty_postgres_url)


def test_sqlite_models_and_migrations_do_not_drift(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    migrations.upgrade(url, "head")
    assert _drift(url) == []


@pytest.mark.postgres
def test_postgres_models_and_migrations_do_not_drift(postgres_url: str) -> None:
    assert _drift(postgres_url) == []


def _seed_0001(url: str) -> None:
    """What 0001 databases hold after the bugs 0002 repairs: an imported annotator `rater1`, a
    file's `ann-001` merged into the real annotator ann-001, and one file imported twice."""
    import json as _json

    statements = [
        "INSERT INTO projects (id, name, languages, schemes, allowed_licences, created_at) "
        "VALUES (1, 'demo', '[]', '[]', '[]', '2026-01-01 00:00:00')",
        "INSERT INTO sources (id, project_id, kind, uri, content_hash, status, extra, created_at) "
        "VALUES (1, 1, 'text', '/t.txt', 'h', 'done', '{}', '2026-01-01 00:00:00')",
        "INSERT INTO items (id, project_id, source_id, kind, reference, is_gold, filter_status, created_at) "
        "VALUES (1, 1, 1, 'text', '{}', false, 'kept', '2026-01-01 00:00:00')",
        "INSERT INTO annotators (id, pseudonym, email, languages, simulated, active, created_at) VALUES "
        "(1, 'ann-001', 'real@example.org', '[]', false, true, '2026-01-01 00:00:00'), "
        "(2, 'rater1', 'rater1@imported.invalid', '[]', false, true, '2026-01-01 00:00:00')",
    ]
    for batch_id in (1, 2):  # the same file twice
        selection = _json.dumps({"import": {"file": "labels.csv", "sha256": "ab" * 32, "judgements": 2}})
        statements.append(
            "INSERT INTO annotation_batches (id, project_id, scheme, overlap_k, gold_rate, selection, created_at) "
            f"VALUES ({batch_id}, 1, 'sentiment3', 2, 0, '{selection}', '2026-01-0{batch_id} 00:00:00')")
        for annotation_id, annotator_id in ((2 * batch_id - 1, 1), (2 * batch_id, 2)):
            raw = _json.dumps([{"import": {"batch_id": batch_id, "file": "labels.csv", "lines": [2]}}])
            statements.append(
                "INSERT INTO annotations (id, item_id, annotator_id, scheme, \"values\", raw_result, is_adjudication, "
                f"origin, created_at, updated_at) VALUES ({annotation_id}, 1, {annotator_id}, 'sentiment3', "
                f"'{{\"sentiment\": \"positive\"}}', '{raw}', false, 'import', '2026-01-01 00:00:00', "
                "'2026-01-01 00:00:00')")
    with engine_for(url).begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
        if connection.dialect.name == "postgresql":  # rows with explicit ids leave the sequences behind
            for table in ("projects", "sources", "items", "annotators", "annotation_batches", "annotations"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


def _check_0002_repairs(url: str) -> None:
    from sqlalchemy import text

    migrations.downgrade(url, "base")
    migrations.upgrade(url, "0001")
    _seed_0001(url)
    migrations.upgrade(url, "head")
    with engine_for(url).connect() as connection:
        imports = connection.execute(text(
            "SELECT project_id, batch_id, sha256, file_name, n_judgements, n_annotations, n_items, n_annotators "
            "FROM label_imports")).all()
        assert [tuple(r) for r in imports] == [(1, 1, "ab" * 32, "labels.csv", 2, 2, 1, 2)]
        owners = dict(connection.execute(text(
            "SELECT a.id, p.pseudonym FROM annotations a JOIN annotators p ON p.id = a.annotator_id")).all())
        assert owners == {1: "imported:ann-001", 2: "imported:rater1", 3: "imported:ann-001", 4: "imported:rater1"}
        assert connection.execute(text("SELECT pseudonym FROM annotators WHERE id = 1")).scalar() == "ann-001"
        assert connection.execute(text("SELECT count(*) FROM items WHERE superseded_at IS NULL")).scalar() == 1
    migrations.downgrade(url, "0001")
    with engine_for(url).connect() as connection:
        names = {r[0] for r in connection.execute(text("SELECT pseudonym FROM annotators"))}
        assert names == {"ann-001", "rater1", "imported:ann-001"}  # a plain name already taken stays prefixed
        assert connection.execute(text("SELECT count(*) FROM annotations")).scalar() == 4
    migrations.downgrade(url, "base")
    engine_for(url).dispose()


def test_sqlite_0002_records_earlier_imports_and_separates_imported_annotators(tmp_path: Path) -> None:
    _check_0002_repairs(f"sqlite:///{tmp_path / 'r.db'}")


@pytest.mark.postgres
def test_postgres_0002_records_earlier_imports_and_separates_imported_annotators(empty_postgres_url: str) -> None:
    _check_0002_repairs(empty_postgres_url)


def _aggregated_labels_per_scheme(url: str) -> None:
    from sqlalchemy import text

    migrations.upgrade(url, "0005")
    with engine_for(url).begin() as connection:
        for statement in (
            "INSERT INTO projects (id, name, languages, schemes, allowed_licences, allow_romanized, created_at) "
            "VALUES (1, 'p', '[]', '[]', '[]', false, '2026-01-01 00:00:00')",
            "INSERT INTO sources (id, project_id, kind, uri, content_hash, status, extra, created_at) "
            "VALUES (1, 1, 'text', '/t.txt', 'h', 'done', '{}', '2026-01-01 00:00:00')",
            "INSERT INTO items (id, project_id, source_id, kind, reference, is_gold, filter_status, created_at) "
            "VALUES (1, 1, 1, 'text', '{}', false, 'kept', '2026-01-01 00:00:00'), "
            "(2, 1, 1, 'text', '{}', false, 'kept', '2026-01-01 00:00:00')",
            "INSERT INTO qa_runs (id, project_id, scheme, results, created_at) "
            "VALUES (1, 1, 'sentiment3', '{}', '2026-01-01 00:00:00')",
            "INSERT INTO aggregated_labels (id, project_id, item_id, field, value, method, distribution, n_judgements, "
            "qa_run_id, updated_at) VALUES (1, 1, 1, 'sentiment', '\"positive\"', 'majority', '{}', 3, 1, "
            "'2026-01-01 00:00:00'), (2, 1, 2, 'sentiment', '\"neutral\"', 'majority', '{}', 3, NULL, "
            "'2026-01-01 00:00:00')",
        ):
            connection.exec_driver_sql(statement)
    migrations.upgrade(url, "head")
    with engine_for(url).begin() as connection:
        schemes = dict(connection.execute(text("SELECT id, scheme FROM aggregated_labels")).tuples().all())
        assert schemes == {1: "sentiment3", 2: ""}  # from the label's QA run; "" where the run is gone
        connection.execute(text(  # another scheme's label of a field with the same name, on the same item
            "INSERT INTO aggregated_labels (id, project_id, item_id, scheme, field, value, method, distribution, "
            "n_judgements, updated_at) VALUES (3, 1, 1, 'utterance', 'sentiment', '\"negative\"', 'majority', '{}', 3, "
            "'2026-01-01 00:00:00')"))
    from backend.domain import ConflictError

    with pytest.raises(ConflictError, match="1 \\(item, field\\) pairs hold aggregated labels of more than one scheme"):
        migrations.downgrade(url, "0005")
    with engine_for(url).connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM aggregated_labels")).scalar() == 3  # nothing changed
    with engine_for(url).begin() as connection:
        connection.execute(text("DELETE FROM aggregated_labels WHERE id = 3"))
    migrations.downgrade(url, "0005")
    migrations.downgrade(url, "base")
    engine_for(url).dispose()


def test_sqlite_0006_keeps_aggregated_labels_per_scheme(tmp_path: Path) -> None:
    _aggregated_labels_per_scheme(f"sqlite:///{tmp_path / 'a.db'}")


@pytest.mark.postgres
def test_postgres_0006_keeps_aggregated_labels_per_scheme(empty_postgres_url: str) -> None:
    _aggregated_labels_per_scheme(empty_postgres_url)
