"""outbox priority: an urgent report's message is delivered before a backlog of bulk reminders

Revision ID: 0022_outbox_priority
Revises: 0021_exports
Create Date: 2026-12-08 02:00:00

One column (every existing message keeps the middle priority) and a partial index of the pending messages in the
order the worker takes them.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0022_outbox_priority'
down_revision = '0021_exports'
branch_labels = None
depends_on = None

PENDING = "state = 'pending'"


def upgrade():
    op.add_column('outbox', sa.Column('priority', sa.SmallInteger(), server_default='1', nullable=False))
    op.create_index('ix_outbox_pending_priority', 'outbox', ['priority', 'next_attempt_at'], unique=False,
                    postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING))


def downgrade():
    op.drop_index('ix_outbox_pending_priority', table_name='outbox')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('priority')
