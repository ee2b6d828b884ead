"""review inbox indexes: an office's open reports, its reports newest first, and by status

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 11:00:00.000000

Plain CREATE INDEX (no table rebuild). The first is partial: only reports not closed.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OPEN_REPORTS = "status <> 'closed'"


def upgrade():
    op.create_index(
        'ix_reports_open_office_id_submitted_at_id', 'reports',
        ['office_id', sa.literal_column('submitted_at DESC'), sa.literal_column('id DESC')],
        postgresql_where=sa.text(OPEN_REPORTS), sqlite_where=sa.text(OPEN_REPORTS),
    )
    op.create_index('ix_reports_office_id_submitted_at_id', 'reports',
                    ['office_id', sa.literal_column('submitted_at DESC'), sa.literal_column('id DESC')])
    op.create_index('ix_reports_office_id_status_submitted_at_id', 'reports',
                    ['office_id', 'status', sa.literal_column('submitted_at DESC'), sa.literal_column('id DESC')])


def downgrade():
    op.drop_index('ix_reports_office_id_status_submitted_at_id', table_name='reports')
    op.drop_index('ix_reports_office_id_submitted_at_id', table_name='reports')
    op.drop_index('ix_reports_open_office_id_submitted_at_id', table_name='reports')
