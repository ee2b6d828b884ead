"""notification channels: the duty roster, the sandbox channel's messages, the scheduled events' sent steps

Revision ID: 0008_notify_channels
Revises: 0008_training
Create Date: 2026-12-01 12:30:00.000000

Three new tables; nothing existing changes.
"""
from alembic import op
import sqlalchemy as sa

from app.core.dbtypes import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0008_notify_channels'
down_revision = '0008_training'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'duty_shifts',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('office_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('weekdays', sa.String(length=7), nullable=False),
        sa.Column('start_minute', sa.Integer(), nullable=False),
        sa.Column('end_minute', sa.Integer(), nullable=False),
        sa.Column('channels', sa.String(length=40), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name='fk_duty_shifts_office_id_offices'),
        sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name='fk_duty_shifts_user_id_staff_users',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_duty_shifts'),
    )
    op.create_index('ix_duty_shifts_office_id', 'duty_shifts', ['office_id'])
    op.create_index('ix_duty_shifts_user_id', 'duty_shifts', ['user_id'])
    op.create_table(
        'notify_sandbox',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('outbox_id', sa.Uuid(), nullable=True),
        sa.Column('office_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('would_be', sa.String(length=30), nullable=False),
        sa.Column('recipient', sa.String(length=80), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('body', sa.String(length=2000), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name='fk_notify_sandbox_office_id_offices'),
        sa.PrimaryKeyConstraint('id', name='pk_notify_sandbox'),
        sa.UniqueConstraint('outbox_id', name='uq_notify_sandbox_outbox_id'),
    )
    op.create_index('ix_notify_sandbox_office_id', 'notify_sandbox', ['office_id'])
    op.create_index('ix_notify_sandbox_created_at', 'notify_sandbox', ['created_at'])
    op.create_table(
        'notify_steps',
        sa.Column('key', sa.String(length=120), nullable=False),
        sa.Column('report_id', sa.Uuid(), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name='fk_notify_steps_report_id_reports',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('key', name='pk_notify_steps'),
    )
    op.create_index('ix_notify_steps_report_id', 'notify_steps', ['report_id'])


def downgrade():
    op.drop_index('ix_notify_steps_report_id', table_name='notify_steps')
    op.drop_table('notify_steps')
    op.drop_index('ix_notify_sandbox_created_at', table_name='notify_sandbox')
    op.drop_index('ix_notify_sandbox_office_id', table_name='notify_sandbox')
    op.drop_table('notify_sandbox')
    op.drop_index('ix_duty_shifts_user_id', table_name='duty_shifts')
    op.drop_index('ix_duty_shifts_office_id', table_name='duty_shifts')
    op.drop_table('duty_shifts')
