"""institutions: hospital and hotline systems that send reports through the signed API, their keys and nonces

Revision ID: 0018_institutions
Revises: 0016_seal_document_numbers
Create Date: 2026-12-07 18:40:00

Three new tables; no existing row changes. A key's secret is sealed under its institution's data key.
"""
import sqlalchemy as sa
from alembic import op

import app.core.dbtypes

# revision identifiers, used by Alembic.
revision = '0018_institutions'
down_revision = '0016_seal_document_numbers'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('institutions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('data_key_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_institutions_office_id_offices')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_institutions_unit_id_units')),
    sa.ForeignKeyConstraint(['data_key_id'], ['data_keys.id'], name=op.f('fk_institutions_data_key_id_data_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_institutions')),
    sa.UniqueConstraint('code', name=op.f('uq_institutions_code'))
    )
    with op.batch_alter_table('institutions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_institutions_office_id'), ['office_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_institutions_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_institutions_data_key_id'), ['data_key_id'], unique=False)

    op.create_table('institution_keys',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('secret_data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'],
                            name=op.f('fk_institution_keys_institution_id_institutions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_institution_keys'))
    )
    with op.batch_alter_table('institution_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_institution_keys_institution_id'), ['institution_id'], unique=False)

    op.create_table('institution_nonces',
    sa.Column('key_id', sa.String(length=40), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('seen_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['institution_keys.id'],
                            name=op.f('fk_institution_nonces_key_id_institution_keys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key_id', 'nonce', name=op.f('pk_institution_nonces'))
    )
    with op.batch_alter_table('institution_nonces', schema=None) as batch_op:
        batch_op.create_index('ix_institution_nonces_seen_at', ['seen_at'], unique=False)


def downgrade():
    op.drop_table('institution_nonces')
    op.drop_table('institution_keys')
    op.drop_table('institutions')
