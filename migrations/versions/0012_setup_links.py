"""one-time setup links: an account's owner chooses the password, nobody types it for them

Revision ID: 0012_setup_links
Revises: 0011_foreign_key_indexes
Create Date: 2026-12-07 15:11:41.989086

A new table (the token's SHA-256, its purpose, when it expires and was used); no existing row changes.
"""
import sqlalchemy as sa
from alembic import op

import app.core.dbtypes

# revision identifiers, used by Alembic.
revision = '0012_setup_links'
down_revision = '0011_foreign_key_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('staff_setup_links',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('created_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_staff_setup_links_user_id_staff_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_setup_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_staff_setup_links_token_hash'))
    )
    with op.batch_alter_table('staff_setup_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_setup_links_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('staff_setup_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_setup_links_user_id'))

    op.drop_table('staff_setup_links')
