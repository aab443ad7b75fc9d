"""keep human work: superseded items, RESTRICT from items, label imports, imported annotators

- ``items.superseded_at`` / ``items.superseded_by_run_id``: a pipeline re-run keeps the items
  people worked on and marks them superseded instead of deleting them.
- ``annotations``, ``tasks``, ``adjudications``, ``aggregated_labels`` and ``release_items``
  refer to ``items`` ON DELETE RESTRICT (was CASCADE): deleting an item never deletes a judgement.
- ``utterances`` loses its unique (asset, start, end, speaker): a superseded item may share its
  span and speaker with the live one that replaced it (the service keeps live ones unique).
- ``items`` on SQLite becomes AUTOINCREMENT: item ids are quoted outside the database (label
  files, Label Studio tasks), so a deleted item's id must never come back as a new item's.
- ``label_imports``: one row per labels file imported into a project (by SHA-256), backfilled
  from the import batches already recorded.
- Annotators created by ``qa import`` (e-mail ``...@imported.invalid``) move to the imported
  namespace (pseudonym ``imported:NAME``); imported annotations that were attached to a real
  annotator of the same name move to a new imported annotator.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

IMPORTED_PREFIX = "imported:"
IMPORTED_EMAIL = "@imported.invalid"
HUMAN_WORK = ("annotations", "tasks", "adjudications", "aggregated_labels", "release_items")


def _item_fks(ondelete: str) -> None:
    for table in HUMAN_WORK:
        name = f"fk_{table}_item_id_items"
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(name, type_="foreignkey")
            batch_op.create_foreign_key(name, "items", ["item_id"], ["id"], ondelete=ondelete)


def upgrade() -> None:
    # SQLite: the table is rebuilt with AUTOINCREMENT, so a deleted item's id is never reused
    with op.batch_alter_table('items', schema=None, table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.add_column(sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('superseded_by_run_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_items_superseded_by_run_id_stage_runs'), 'stage_runs',
                                    ['superseded_by_run_id'], ['id'], ondelete='SET NULL')

    _item_fks("RESTRICT")

    with op.batch_alter_table('utterances', schema=None) as batch_op:
        batch_op.drop_constraint('uq_utterances_asset_id_start_ms_end_ms_speaker_label', type_='unique')

    op.create_table('label_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.Text(), nullable=False),
    sa.Column('scheme', sa.String(length=100), nullable=False),
    sa.Column('n_judgements', sa.Integer(), nullable=False),
    sa.Column('n_annotations', sa.Integer(), nullable=False),
    sa.Column('n_items', sa.Integer(), nullable=False),
    sa.Column('n_annotators', sa.Integer(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['annotation_batches.id'], name=op.f('fk_label_imports_batch_id_annotation_batches'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_label_imports_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_label_imports')),
    sa.UniqueConstraint('project_id', 'sha256', name=op.f('uq_label_imports_project_id_sha256'))
    )
    with op.batch_alter_table('label_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_label_imports_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_label_imports_project_id'), ['project_id'], unique=False)

    _backfill_label_imports()
    _imported_annotators_to_their_namespace()


def downgrade() -> None:
    _imported_annotators_back()
    with op.batch_alter_table('label_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_label_imports_project_id'))
        batch_op.drop_index(batch_op.f('ix_label_imports_batch_id'))
    op.drop_table('label_imports')

    # Restoring the unique span needs the superseded duplicates gone: they lose their utterance
    # details (the items, with every judgement on them, stay).
    connection = op.get_bind()
    connection.execute(sa.text(
        "DELETE FROM utterances WHERE item_id IN (SELECT id FROM items WHERE superseded_at IS NOT NULL) "
        "AND EXISTS (SELECT 1 FROM utterances AS live JOIN items AS li ON li.id = live.item_id "
        "WHERE li.superseded_at IS NULL AND live.asset_id = utterances.asset_id "
        "AND live.start_ms = utterances.start_ms AND live.end_ms = utterances.end_ms "
        "AND live.speaker_label = utterances.speaker_label)"))
    with op.batch_alter_table('utterances', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_utterances_asset_id_start_ms_end_ms_speaker_label',
                                          ['asset_id', 'start_ms', 'end_ms', 'speaker_label'])

    _item_fks("CASCADE")

    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_items_superseded_by_run_id_stage_runs'), type_='foreignkey')
        batch_op.drop_column('superseded_by_run_id')
        batch_op.drop_column('superseded_at')


# --------------------------------------------------------------------------- data

_batches = sa.table("annotation_batches", sa.column("id", sa.Integer), sa.column("project_id", sa.Integer),
                    sa.column("scheme", sa.String), sa.column("selection", sa.JSON),
                    sa.column("created_at", sa.DateTime(timezone=True)))
_imports = sa.table("label_imports", sa.column("project_id", sa.Integer), sa.column("batch_id", sa.Integer),
                    sa.column("sha256", sa.String), sa.column("file_name", sa.Text), sa.column("scheme", sa.String),
                    sa.column("n_judgements", sa.Integer), sa.column("n_annotations", sa.Integer),
                    sa.column("n_items", sa.Integer), sa.column("n_annotators", sa.Integer),
                    sa.column("imported_at", sa.DateTime(timezone=True)))
_annotators = sa.table("annotators", sa.column("id", sa.Integer), sa.column("pseudonym", sa.String),
                       sa.column("email", sa.String), sa.column("languages", sa.JSON),
                       sa.column("simulated", sa.Boolean), sa.column("active", sa.Boolean),
                       sa.column("created_at", sa.DateTime(timezone=True)))
_annotations = sa.table("annotations", sa.column("id", sa.Integer), sa.column("item_id", sa.Integer),
                        sa.column("annotator_id", sa.Integer), sa.column("origin", sa.String))


def _backfill_label_imports() -> None:
    """One label_imports row per earlier import batch; of a file imported twice, the first import."""
    connection = op.get_bind()
    counts = _import_counts(connection)
    seen: set[tuple[int, str]] = set()
    for batch in connection.execute(sa.select(_batches).order_by(_batches.c.id)).all():
        info = batch.selection.get("import") if isinstance(batch.selection, dict) else None
        if not isinstance(info, dict) or not info.get("sha256"):
            continue
        key = (batch.project_id, str(info["sha256"]))
        if key in seen:
            continue
        seen.add(key)
        items, annotators, n_annotations = counts.get(batch.id, (set(), set(), 0))
        connection.execute(sa.insert(_imports).values(
            project_id=batch.project_id, batch_id=batch.id, sha256=key[1], file_name=str(info.get("file") or ""),
            scheme=batch.scheme, n_judgements=int(info.get("judgements") or 0), n_annotations=n_annotations,
            n_items=len(items), n_annotators=len(annotators), imported_at=batch.created_at))


def _import_counts(connection: sa.Connection) -> dict[int, tuple[set[int], set[int], int]]:
    """Per import batch id (kept in each imported annotation's raw_result): its items, annotators, annotations."""
    out: dict[int, tuple[set[int], set[int], int]] = {}
    rows = connection.execute(sa.text(
        "SELECT item_id, annotator_id, raw_result FROM annotations WHERE origin = 'import'"
    ).columns(sa.column("item_id", sa.Integer), sa.column("annotator_id", sa.Integer),
              sa.column("raw_result", sa.JSON)))
    for row in rows:
        raw = row.raw_result
        info = raw[0].get("import") if isinstance(raw, list) and raw and isinstance(raw[0], dict) else None
        if not isinstance(info, dict) or not isinstance(info.get("batch_id"), int):
            continue
        items, annotators, n = out.get(info["batch_id"], (set(), set(), 0))
        items.add(row.item_id)
        annotators.add(row.annotator_id)
        out[info["batch_id"]] = (items, annotators, n + 1)
    return out


def _imported_annotators_to_their_namespace() -> None:
    connection = op.get_bind()
    taken = {p for (p,) in connection.execute(sa.select(_annotators.c.pseudonym))}
    for row in connection.execute(sa.select(_annotators)).all():
        imported_only = row.email.endswith(IMPORTED_EMAIL)
        has_imports = connection.execute(sa.select(sa.func.count()).select_from(_annotations).where(
            _annotations.c.annotator_id == row.id, _annotations.c.origin == "import")).scalar()
        if row.pseudonym.startswith(IMPORTED_PREFIX) or not has_imports:
            continue
        target = (IMPORTED_PREFIX + row.pseudonym)[:50]
        if imported_only:
            if target not in taken:
                connection.execute(sa.update(_annotators).where(_annotators.c.id == row.id)
                                   .values(pseudonym=target))
                taken.add(target)
            continue
        # a real annotator that imported labels were attached to: give those labels their own annotator
        new_id = connection.execute(sa.select(_annotators.c.id).where(_annotators.c.pseudonym == target)).scalar()
        if new_id is None:
            new_id = connection.execute(sa.insert(_annotators).values(
                pseudonym=target, email=f"{target.removeprefix(IMPORTED_PREFIX)}.moved{IMPORTED_EMAIL}",
                languages=[], simulated=False, active=True, created_at=row.created_at,
            ).returning(_annotators.c.id)).scalar()
            taken.add(target)
        connection.execute(sa.update(_annotations).where(
            _annotations.c.annotator_id == row.id, _annotations.c.origin == "import").values(annotator_id=new_id))


def _imported_annotators_back() -> None:
    """Imported annotators get their plain names back where no other annotator holds the name."""
    connection = op.get_bind()
    taken = {p for (p,) in connection.execute(sa.select(_annotators.c.pseudonym))}
    for row in connection.execute(sa.select(_annotators).where(
            _annotators.c.pseudonym.like(IMPORTED_PREFIX + "%"))).all():
        plain = row.pseudonym.removeprefix(IMPORTED_PREFIX)
        if plain and plain not in taken:
            connection.execute(sa.update(_annotators).where(_annotators.c.id == row.id).values(pseudonym=plain))
            taken.add(plain)
