"""sources skipped by the licence policy: ``sources.status`` may be ``skipped``

``mmcurate ingest ytdlp|urls|manifest`` decide each source's licence against the project's
policy before downloading; a source the policy leaves out is recorded (its metadata and the
reason) with status ``skipped`` and never downloaded or processed. The CHECK constraint on
``sources.status`` is recreated with the new value. The downgrade turns skipped sources into
failed ones (keeping the reason in ``error``) before restoring the old constraint.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 16:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OLD_STATUSES = "status IN ('registered', 'processing', 'done', 'failed', 'taken_down')"
NEW_STATUSES = "status IN ('registered', 'processing', 'done', 'failed', 'taken_down', 'skipped')"


def upgrade() -> None:
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_sources_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_sources_status'), NEW_STATUSES)


def downgrade() -> None:
    sources = sa.table('sources', sa.column('status', sa.String))
    op.execute(sources.update().where(sources.c.status == 'skipped').values(status='failed'))
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_sources_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_sources_status'), OLD_STATUSES)
