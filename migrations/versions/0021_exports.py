"""exports: workbooks written by the export runner and kept sealed until fetched

Revision ID: 0021_exports
Revises: 0020_recommendations
Create Date: 2026-12-08 02:00:00

One new table; no existing row changes. The parameters are sealed under the export's own data key; the title
and file name hold nothing personal.
"""
import sqlalchemy as sa
from alembic import op

import app.core.dbtypes

# revision identifiers, used by Alembic.
revision = '0021_exports'
down_revision = '0020_recommendations'
branch_labels = None
depends_on = None

LIVE = "state IN ('queued', 'running', 'ready')"


def upgrade():
    op.create_table('exports',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('request_digest', sa.LargeBinary(length=33), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('filename', sa.String(length=120), nullable=False),
    sa.Column('data_key_id', sa.Uuid(), nullable=True),
    sa.Column('params_data', sa.LargeBinary(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=80), nullable=True),
    sa.Column('lease_until', app.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('storage_name', sa.String(length=64), nullable=True),
    sa.Column('stored_size', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=80), nullable=True),
    sa.Column('created_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('fetched_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_exports_office_id_offices')),
    sa.ForeignKeyConstraint(['requested_by'], ['staff_users.id'], name=op.f('fk_exports_requested_by_staff_users')),
    sa.ForeignKeyConstraint(['data_key_id'], ['data_keys.id'], name=op.f('fk_exports_data_key_id_data_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exports'))
    )
    with op.batch_alter_table('exports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exports_office_id'), ['office_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exports_requested_by'), ['requested_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_exports_data_key_id'), ['data_key_id'], unique=False)
        batch_op.create_index('ix_exports_state_created_at', ['state', 'created_at'], unique=False)
        batch_op.create_index('uq_exports_live_request', ['requested_by', 'request_digest'], unique=True,
                              postgresql_where=sa.text(LIVE), sqlite_where=sa.text(LIVE))


def downgrade():
    op.drop_table('exports')
