"""member units admin: a unit's address, and its liaisons with sealed names and phone numbers

Revision ID: 0008_units_admin
Revises: 0008_notify_worker
Create Date: 2026-12-01 12:23:35.109160

Adding a nullable column is a plain ALTER TABLE on both backends (no table rebuild).
"""
from alembic import op
import sqlalchemy as sa

import app.core.dbtypes


# revision identifiers, used by Alembic.
revision = '0008_units_admin'
down_revision = '0008_notify_worker'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('unit_liaisons',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('data_key_id', sa.Uuid(), nullable=False),
    sa.Column('name_data', sa.LargeBinary(), nullable=False),
    sa.Column('phone_data', sa.LargeBinary(), nullable=False),
    sa.Column('phone_bidx', sa.LargeBinary(length=33), nullable=False),
    sa.Column('created_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['data_key_id'], ['data_keys.id'], name=op.f('fk_unit_liaisons_data_key_id_data_keys')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_unit_liaisons_unit_id_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_liaisons'))
    )
    with op.batch_alter_table('unit_liaisons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_liaisons_phone_bidx'), ['phone_bidx'], unique=False)
        batch_op.create_index(batch_op.f('ix_unit_liaisons_unit_id'), ['unit_id'], unique=False)

    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=200), nullable=True))



def downgrade():
    # A plain DROP COLUMN, never a batch rebuild: copying ``units`` would turn its column REFERENCES into table
    # constraints that an older migration's DROP COLUMN (office_id, 0005) then trips on.
    op.drop_column('units', 'address')

    with op.batch_alter_table('unit_liaisons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_liaisons_unit_id'))
        batch_op.drop_index(batch_op.f('ix_unit_liaisons_phone_bidx'))

    op.drop_table('unit_liaisons')
