"""training reports: a ``training`` flag on reports and the index the 7-day purge reads

Revision ID: 0008_training
Revises: 0008_inbox_indexes
Create Date: 2026-12-05 10:00:00.000000

Adds a NOT NULL column with a server default (every existing report is a real one): no table rebuild on
PostgreSQL; SQLite's ADD COLUMN takes it as it is.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_training'
down_revision = '0008_inbox_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('reports', sa.Column('training', sa.Boolean(), nullable=False, server_default=sa.false()))
    # Partial: practice reports only (the purge and the training queue), never chosen for the real inbox.
    op.create_index('ix_reports_training_submitted_at', 'reports', ['office_id', 'submitted_at'],
                    postgresql_where=sa.text('training'), sqlite_where=sa.text('training'))


def downgrade():
    op.drop_index('ix_reports_training_submitted_at', table_name='reports')
    # A plain DROP COLUMN (SQLite 3.35+), never a batch rebuild of ``reports``: copying the table would drop
    # the original under its children's ON DELETE CASCADE, and turn column REFERENCES into table constraints
    # that an older migration's DROP COLUMN then trips on.
    op.drop_column('reports', 'training')
