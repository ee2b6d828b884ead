"""filed cases: the cases the police filed (imported lists) and the member units each names, for 倒查

Revision ID: 0019_filed_cases
Revises: 0017_answer_attachments
Create Date: 2026-12-07 22:05:00

Two new tables; no existing row changes. The victim's ID number and name and the place are sealed under the
case's data key; the ID number's blind index is the reports' own (purpose victim.id_number).
"""
import sqlalchemy as sa
from alembic import op

import app.core.dbtypes

# revision identifiers, used by Alembic.
revision = '0019_filed_cases'
down_revision = '0017_answer_attachments'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('filed_cases',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('case_no', sa.String(length=64), nullable=False),
    sa.Column('filed_on', sa.Date(), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('victim_age', sa.Integer(), nullable=True),
    sa.Column('data_key_id', sa.Uuid(), nullable=False),
    sa.Column('victim_data', sa.LargeBinary(), nullable=False),
    sa.Column('place_data', sa.LargeBinary(), nullable=True),
    sa.Column('victim_id_bidx', sa.LargeBinary(length=33), nullable=False),
    sa.Column('victim_name_bidx', sa.LargeBinary(length=33), nullable=True),
    sa.Column('window_start', app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_end', app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('imported_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_filed_cases_office_id_offices')),
    sa.ForeignKeyConstraint(['data_key_id'], ['data_keys.id'], name=op.f('fk_filed_cases_data_key_id_data_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_filed_cases')),
    sa.UniqueConstraint('office_id', 'case_no', name='uq_filed_cases_office_id_case_no')
    )
    with op.batch_alter_table('filed_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_filed_cases_office_id'), ['office_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_filed_cases_filed_on'), ['filed_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_filed_cases_data_key_id'), ['data_key_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_filed_cases_victim_id_bidx'), ['victim_id_bidx'], unique=False)

    op.create_table('filed_case_units',
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('decided_by', sa.Uuid(), nullable=True),
    sa.Column('decided_at', app.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('name_match', sa.String(length=10), nullable=True),
    sa.Column('name_match_report_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['filed_cases.id'], name=op.f('fk_filed_case_units_case_id_filed_cases'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_filed_case_units_unit_id_units')),
    sa.ForeignKeyConstraint(['decided_by'], ['staff_users.id'],
                            name=op.f('fk_filed_case_units_decided_by_staff_users')),
    sa.ForeignKeyConstraint(['name_match_report_id'], ['reports.id'],
                            name=op.f('fk_filed_case_units_name_match_report_id_reports'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('case_id', 'unit_id', name=op.f('pk_filed_case_units'))
    )
    with op.batch_alter_table('filed_case_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_filed_case_units_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_filed_case_units_decided_by'), ['decided_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_filed_case_units_name_match_report_id'), ['name_match_report_id'],
                              unique=False)

    # Reports' victim names as a blind index, for name-only candidates; reports stored before this migration
    # have none (their names are not decrypted here): they are matched by the ID number only.
    # Plain ALTER TABLE on both backends (no batch copy of reports, whose foreign keys older downgrades rely on).
    op.add_column('reports', sa.Column('victim_name_bidx', sa.LargeBinary(length=33), nullable=True))
    op.create_index(op.f('ix_reports_victim_name_bidx'), 'reports', ['victim_name_bidx'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_reports_victim_name_bidx'), table_name='reports')
    op.drop_column('reports', 'victim_name_bidx')
    op.drop_table('filed_case_units')
    op.drop_table('filed_cases')
