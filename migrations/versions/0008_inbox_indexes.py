"""closed report counts: each office's closed reports, for the inbox's 已办结 tab

Revision ID: 0008_inbox_indexes
Revises: 0008_units_admin
Create Date: 2026-12-01 13:00:00.000000

A new table of one row per office, filled from the reports already closed; no table is rebuilt.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_inbox_indexes'
down_revision = '0008_units_admin'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'closed_report_counts',
        sa.Column('office_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('closed', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_closed_report_counts_office_id_offices'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('office_id', name=op.f('pk_closed_report_counts')),
    )
    op.execute(
        "INSERT INTO closed_report_counts (office_id, closed) "
        "SELECT office_id, count(*) FROM reports WHERE status = 'closed' AND office_id IS NOT NULL GROUP BY office_id"
    )


def downgrade():
    op.drop_table('closed_report_counts')
