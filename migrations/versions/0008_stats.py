"""statistics indexes: each figure's own timestamp, per office (reports) or alone (transfers)

Revision ID: 0008_stats
Revises: 0007
Create Date: 2026-12-01 13:00:00.000000

Plain CREATE INDEX (no table rebuild). The statistics page counts each figure on its own timestamp inside a
period (app/stats/queries.py): these let each count read only its period's rows.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008_stats'
down_revision = '0007'
branch_labels = None
depends_on = None

REPORTS = (
    ('ix_reports_office_id_acknowledged_at', ['office_id', 'acknowledged_at']),
    ('ix_reports_office_id_closed_at', ['office_id', 'closed_at']),
    ('ix_reports_office_id_acknowledge_due_at', ['office_id', 'acknowledge_due_at']),
    ('ix_reports_unit_id_submitted_at', ['unit_id', 'submitted_at']),
)
TRANSFERS = (
    ('ix_transfers_created_at', ['created_at']),
    ('ix_transfers_feedback_at', ['feedback_at']),
    ('ix_transfers_supervision_requested_at', ['supervision_requested_at']),
    ('ix_transfers_receipt_due_at', ['receipt_due_at']),
    ('ix_transfers_feedback_due_at', ['feedback_due_at']),
    ('ix_transfers_supervision_answer_due_at', ['supervision_answer_due_at']),
)


def upgrade():
    for name, columns in REPORTS:
        op.create_index(name, 'reports', columns)
    for name, columns in TRANSFERS:
        op.create_index(name, 'transfers', columns)


def downgrade():
    for name, _ in reversed(TRANSFERS):
        op.drop_index(name, table_name='transfers')
    for name, _ in reversed(REPORTS):
        op.drop_index(name, table_name='reports')
