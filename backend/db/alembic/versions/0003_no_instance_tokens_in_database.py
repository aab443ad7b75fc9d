"""no instance tokens in the database: drop labelstudio_instances.admin_token

An instance's admin token opens everything in that instance; it stays only in the 0600 state
file ``<data dir>/labelstudio/instances.json``, never mirrored in plain text into the database
(docs/threat-model.md). A downgrade brings the column back empty.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 06:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('labelstudio_instances', schema=None) as batch_op:
        batch_op.drop_column('admin_token')


def downgrade() -> None:
    with op.batch_alter_table('labelstudio_instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('admin_token', sa.String(length=200), nullable=True))
