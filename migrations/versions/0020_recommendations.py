"""recommendations: the 检察建议 sent to member units over their 应报未报, and when each was answered

Revision ID: 0020_recommendations
Revises: 0019_filed_cases
Create Date: 2026-12-07 22:30:00

One new table; no existing row changes. Nothing personal is kept in it: counts, dates and the unit.
"""
import sqlalchemy as sa
from alembic import op

import app.core.dbtypes

# revision identifiers, used by Alembic.
revision = '0020_recommendations'
down_revision = '0019_filed_cases'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('recommendations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('period_first', sa.Date(), nullable=False),
    sa.Column('period_last', sa.Date(), nullable=False),
    sa.Column('findings', sa.Integer(), nullable=False),
    sa.Column('sent_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_by', sa.Uuid(), nullable=True),
    sa.Column('answered_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_recommendations_office_id_offices')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_recommendations_unit_id_units')),
    sa.ForeignKeyConstraint(['sent_by'], ['staff_users.id'], name=op.f('fk_recommendations_sent_by_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recommendations'))
    )
    with op.batch_alter_table('recommendations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recommendations_office_id'), ['office_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recommendations_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recommendations_sent_by'), ['sent_by'], unique=False)


def downgrade():
    op.drop_table('recommendations')
