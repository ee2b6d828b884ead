"""step-up keeps the action: a staff session holds the sensitive POST that waits for its second factor

Revision ID: 0010_step_up_keeps_action
Revises: 0009_stats_speed
Create Date: 2026-12-07 07:30:00.000000

Two nullable columns on ``staff_sessions`` (no table rebuild): the held request, sealed under the user's data
key, and when it was held.
"""
import sqlalchemy as sa
from alembic import op

import app.core.dbtypes


# revision identifiers, used by Alembic.
revision = '0010_step_up_keeps_action'
down_revision = '0009_stats_speed'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff_sessions') as batch:
        batch.add_column(sa.Column('pending_action_data', sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column('pending_action_at', app.core.dbtypes.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('staff_sessions') as batch:
        batch.drop_column('pending_action_at')
        batch.drop_column('pending_action_data')
