"""speaker-count hints as project settings

``projects.num_speakers`` fixes the number of speakers the diarizer looks for in every
recording of the project; ``min_speakers``/``max_speakers`` bound its estimate. All
nullable (no hint: the count is estimated within the diarizer's defaults). A source's own
hint (sidecar or manifest row) and a ``process`` run's options take precedence; see
``backend.domain.SpeakerCountHint``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 14:20:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('num_speakers', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('min_speakers', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_speakers', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('projects', schema=None) as batch_op:
        for column in ('max_speakers', 'min_speakers', 'num_speakers'):
            batch_op.drop_column(column)
