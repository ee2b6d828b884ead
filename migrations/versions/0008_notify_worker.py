"""notify worker: dead letters' time and the claiming worker, worker heartbeats, scheduled jobs' leases,
and (PostgreSQL) a NOTIFY on every outbox insert so an idle worker wakes at once

Revision ID: 0008_notify_worker
Revises: 0008_stats
Create Date: 2026-12-02 10:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

from app.core.dbtypes import UTCDateTime

# revision identifiers, used by Alembic.
revision = '0008_notify_worker'
down_revision = '0008_stats'
branch_labels = None
depends_on = None

CHANNEL = 'qzbg_outbox'  # app.notify.worker.LISTEN_CHANNEL


def upgrade():
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('dead_at', UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('claimed_by', sa.String(length=80), nullable=True))
    op.create_table(
        'notify_workers',
        sa.Column('id', sa.String(length=80), nullable=False),
        sa.Column('host', sa.String(length=64), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('started_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('beat_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_workers')),
    )
    op.create_index('ix_notify_workers_beat_at', 'notify_workers', ['beat_at'])
    op.create_table(
        'job_runs',
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('last_started', UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_finished', UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_status', sa.String(length=20), nullable=True),
        sa.Column('last_error', sa.String(length=80), nullable=True),
        sa.Column('lease_owner', sa.String(length=80), nullable=True),
        sa.Column('lease_until', UTCDateTime(timezone=True), nullable=False),
        sa.Column('next_run', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_job_runs')),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"""
            CREATE FUNCTION qzbg_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$;
        """)
        op.execute("""
            CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
            FOR EACH STATEMENT EXECUTE FUNCTION qzbg_outbox_notify();
        """)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
        op.execute("DROP FUNCTION IF EXISTS qzbg_outbox_notify()")
    op.drop_table('job_runs')
    op.drop_index('ix_notify_workers_beat_at', table_name='notify_workers')
    op.drop_table('notify_workers')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('claimed_by')
        batch.drop_column('dead_at')
