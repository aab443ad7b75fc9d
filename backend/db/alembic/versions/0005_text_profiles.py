"""text profiles: normalised text, scripts, code-mixing on items; the project's text policy

- ``items.text_normalized`` / ``dominant_script`` / ``cmi`` / ``text_profile``: what
  ``backend.language`` makes of an item's raw text (which stays in ``items.text``); filled
  here for the items already stored, with each project's languages as the expected ones.
- ``projects.han_target`` (Chinese normalised to ``simplified`` or ``traditional``, or left
  as written) and ``projects.allow_romanized`` (keep transcripts in Latin script for a
  language with its own script).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:10:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('han_target', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('allow_romanized', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_check_constraint(
            'han_target', "han_target IS NULL OR han_target IN ('simplified', 'traditional')")
    with op.batch_alter_table('items', schema=None, table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.add_column(sa.Column('text_normalized', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('dominant_script', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('cmi', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('text_profile', sa.JSON(), nullable=True))
        batch_op.create_index('ix_items_script', ['project_id', 'dominant_script'], unique=False)
    _profile_stored_texts()


def _profile_stored_texts() -> None:
    """Every item that has text gets its profile now, as new items get theirs when stored."""
    from backend.language import profile_text

    bind = op.get_bind()
    items = sa.table('items', sa.column('id', sa.Integer), sa.column('project_id', sa.Integer),
                     sa.column('text', sa.Text), sa.column('language', sa.String),
                     sa.column('text_normalized', sa.Text), sa.column('dominant_script', sa.String),
                     sa.column('cmi', sa.Float), sa.column('text_profile', sa.JSON))
    projects = sa.table('projects', sa.column('id', sa.Integer), sa.column('languages', sa.JSON))
    languages = {pid: list(langs or []) for pid, langs in bind.execute(sa.select(projects.c.id, projects.c.languages))}
    rows = bind.execute(sa.select(items.c.id, items.c.project_id, items.c.text, items.c.language)
                        .where(items.c.text.is_not(None))).all()
    for item_id, project_id, text, language in rows:
        expected = list(dict.fromkeys([language, "en"])) if language else languages.get(project_id, [])
        profile = profile_text(text, expected_languages=expected)  # as backend.services.text.expected_languages
        bind.execute(items.update().where(items.c.id == item_id).values(
            text_normalized=profile.normalized, dominant_script=profile.dominant_script, cmi=profile.cmi,
            text_profile=profile.stored()))


def downgrade() -> None:
    with op.batch_alter_table('items', schema=None, table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.drop_index('ix_items_script')
        batch_op.drop_column('text_profile')
        batch_op.drop_column('cmi')
        batch_op.drop_column('dominant_script')
        batch_op.drop_column('text_normalized')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_constraint('han_target', type_='check')
        batch_op.drop_column('allow_romanized')
        batch_op.drop_column('han_target')
