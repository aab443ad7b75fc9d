"""items beyond clips: external ids, attachments, chat authors and times, OCR, near-duplicate groups

- ``items.external_id``: the id an item has in its own corpus (a Telegram message id, a
  SemEval row id, an image's path in its folder), so that a re-import finds the item again
  instead of adding it twice (index with project and source).
- ``items.parent_id``: the chat turn a sticker or photo belongs to.
- ``items.author`` / ``items.posted_at``: a chat turn's pseudonymised author and its time.
- ``items.ocr_text`` / ``items.ocr``: what OCR read in an image, and its words with boxes
  and confidences.
- ``items.duplicate_group`` / ``items.duplicate_of_id``: the near-duplicate group an item is
  in and the member annotated for the group; ``items.fingerprint`` the near-duplicate
  fingerprint, computed once per item.

All nullable: existing items (clips) have none of them; the downgrade drops them again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 12:30:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('items', schema=None, table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('author', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('posted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ocr_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('ocr', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('duplicate_group', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('duplicate_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('fingerprint', sa.JSON(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_items_parent_id_items'), 'items', ['parent_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_items_duplicate_of_id_items'), 'items', ['duplicate_of_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_items_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index('ix_items_external', ['project_id', 'source_id', 'external_id'], unique=False)
        batch_op.create_index('ix_items_duplicates', ['project_id', 'duplicate_group'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('items', schema=None, table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.drop_index('ix_items_duplicates')
        batch_op.drop_index('ix_items_external')
        batch_op.drop_index(batch_op.f('ix_items_parent_id'))
        batch_op.drop_constraint(batch_op.f('fk_items_duplicate_of_id_items'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_items_parent_id_items'), type_='foreignkey')
        for column in ('fingerprint', 'duplicate_of_id', 'duplicate_group', 'ocr', 'ocr_text', 'posted_at', 'author', 'parent_id',
                       'external_id'):
            batch_op.drop_column(column)
