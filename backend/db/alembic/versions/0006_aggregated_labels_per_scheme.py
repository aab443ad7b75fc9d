"""aggregated labels per scheme: two schemes with a field of the same name keep both labels

``aggregated_labels`` was unique per (item, field), so a QA run of one scheme replaced the
aggregated labels of another scheme that names a field alike (``sentiment`` in sentiment3 and
in a meme scheme). It gains ``scheme`` — filled from the QA run that made each label, "" where
that run is gone — and is unique per (item, scheme, field).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 11:05:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('aggregated_labels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scheme', sa.String(length=100), nullable=False, server_default=''))
    op.execute(
        "UPDATE aggregated_labels SET scheme = (SELECT qa_runs.scheme FROM qa_runs "
        "WHERE qa_runs.id = aggregated_labels.qa_run_id AND qa_runs.scheme IS NOT NULL) "
        "WHERE qa_run_id IS NOT NULL AND EXISTS (SELECT 1 FROM qa_runs WHERE qa_runs.id = aggregated_labels.qa_run_id "
        "AND qa_runs.scheme IS NOT NULL)"
    )
    with op.batch_alter_table('aggregated_labels', schema=None) as batch_op:
        batch_op.drop_constraint('uq_aggregated_labels_item_id_field', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_aggregated_labels_item_id_scheme_field'),
                                          ['item_id', 'scheme', 'field'])


def downgrade() -> None:
    from backend.domain import ConflictError

    clashes = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM (SELECT item_id, field FROM aggregated_labels GROUP BY item_id, field "
        "HAVING count(*) > 1) AS clash")).scalar()
    if clashes:
        raise ConflictError(
            f"{clashes} (item, field) pairs hold aggregated labels of more than one scheme; before 0006 only one "
            "could be kept. Nothing was changed: export the labels you need, delete the duplicates from "
            "aggregated_labels, then downgrade again")
    with op.batch_alter_table('aggregated_labels', schema=None) as batch_op:
        batch_op.drop_constraint('uq_aggregated_labels_item_id_scheme_field', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_aggregated_labels_item_id_field'), ['item_id', 'field'])
        batch_op.drop_column('scheme')
