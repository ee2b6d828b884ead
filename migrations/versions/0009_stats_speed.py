"""statistics speed: transfers carry their report's office and submission time, reports their categories as bits,
and the statistics indexes hold what each figure reads

Revision ID: 0009_stats_speed
Revises: 0008_notify_channels
Create Date: 2026-12-01 14:00:00.000000

New nullable columns (no table rebuild), backfilled here from the rows they copy: ``transfers.office_id`` and
``transfers.report_submitted_at`` from the transfer's report, ``reports.category_mask`` from ``report_categories``
(bit i for the i-th code of ``app.reports.constants.CATEGORIES``). The transfers' single-column statistics
indexes of 0008 become (office_id, timestamp) ones; on PostgreSQL the statistics indexes INCLUDE the columns
their figure reads, so that a period's figures come from index-only scans (app/stats/queries.py).
"""
import sqlalchemy as sa
from alembic import op

import app.core.dbtypes


# revision identifiers, used by Alembic.
revision = '0009_stats_speed'
down_revision = '0008_notify_channels'
branch_labels = None
depends_on = None

# The codes in app.reports.constants.CATEGORIES' order, as they were when this migration was written.
CODES = ('genital_injury', 'sexual_assault_under_14', 'sexual_assault_pregnancy_14_plus', 'abuse_injury',
         'abnormal_injury_or_death', 'abandonment', 'missing_or_trafficked', 'organised_begging', 'other_serious_harm')
OLD_TRANSFERS = ('created_at', 'feedback_at', 'supervision_requested_at', 'receipt_due_at', 'feedback_due_at',
                 'supervision_answer_due_at')
TRANSFERS = {  # each includes ``training`` too: the statistics leave practice reports out
    'created_at': ['report_id', 'report_submitted_at', 'training'],
    'feedback_at': ['report_id', 'feedback_outcome', 'created_at', 'training'],
    'supervision_requested_at': ['report_id', 'training'],
    'report_submitted_at': ['report_id', 'training'],
    'receipt_due_at': ['report_id', 'acknowledged_at', 'state', 'training'],
    'feedback_due_at': ['report_id', 'feedback_at', 'state', 'training'],
    'supervision_answer_due_at': ['report_id', 'explained_at', 'concluded_at', 'state', 'training'],
}
REPORTS = (
    ('ix_reports_office_id_acknowledged_at', ['office_id', 'acknowledged_at'], ['submitted_at', 'training']),
    ('ix_reports_office_id_closed_at', ['office_id', 'closed_at'], ['status', 'training']),
    ('ix_reports_office_id_acknowledge_due_at', ['office_id', 'acknowledge_due_at'],
     ['acknowledged_at', 'status', 'id', 'training']),
)
RECEIVED = 'ix_reports_office_id_submitted_at_id'
RECEIVED_INCLUDE = ['unit_id', 'unit_type', 'district_code', 'channel', 'category_mask', 'training']


def _received_index(include):
    op.create_index(RECEIVED, 'reports',
                    ['office_id', sa.literal_column('submitted_at DESC'), sa.literal_column('id DESC')],
                    postgresql_include=include)


OPEN = 'ix_reports_open_office_id_submitted_at_id'
OPEN_BEFORE = "status <> 'closed'"
OPEN_REAL = {'postgresql': f"{OPEN_BEFORE} AND NOT training", 'sqlite': f"{OPEN_BEFORE} AND training = 0"}


def _open_index(predicate_pg, predicate_sqlite, include=None):
    op.create_index(OPEN, 'reports',
                    ['office_id', sa.literal_column('submitted_at DESC'), sa.literal_column('id DESC')],
                    postgresql_where=sa.text(predicate_pg), sqlite_where=sa.text(predicate_sqlite),
                    postgresql_include=include)


def upgrade():
    # The inbox's open index holds real reports only: practice reports (0008_training) are filtered out of it.
    op.drop_index(OPEN, table_name='reports')
    # ... and carries what the inbox tabs count by (status, overdue), so those counts read the index alone.
    _open_index(OPEN_REAL['postgresql'], OPEN_REAL['sqlite'], ['status', 'urgent', 'acknowledged_at', 'acknowledge_due_at'])
    if op.get_bind().dialect.name == 'sqlite':  # a column with its reference, without rebuilding the table
        op.execute(sa.text('ALTER TABLE transfers ADD COLUMN office_id INTEGER REFERENCES offices (id)'))
    else:
        op.add_column('transfers', sa.Column('office_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_transfers_office_id_offices'), 'transfers', 'offices', ['office_id'], ['id'])
    op.add_column('transfers', sa.Column('report_submitted_at', app.core.dbtypes.UTCDateTime(timezone=True),
                                         nullable=True))
    op.add_column('transfers', sa.Column('training', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('reports', sa.Column('category_mask', sa.Integer(), server_default=sa.text('0'), nullable=False))
    op.execute('UPDATE transfers SET'
               ' office_id = (SELECT office_id FROM reports WHERE reports.id = transfers.report_id),'
               ' report_submitted_at = (SELECT submitted_at FROM reports WHERE reports.id = transfers.report_id),'
               ' training = (SELECT training FROM reports WHERE reports.id = transfers.report_id)')
    bits = ' '.join(f"WHEN '{code}' THEN {1 << i}" for i, code in enumerate(CODES))
    op.execute(  # noqa: S608 - the codes and bits are this file's constants
        f'UPDATE reports SET category_mask = COALESCE((SELECT SUM(CASE report_categories.code {bits} ELSE 0 END)'
        ' FROM report_categories WHERE report_categories.report_id = reports.id), 0)')

    for column in OLD_TRANSFERS:
        op.drop_index(f'ix_transfers_{column}', table_name='transfers')
    for column, include in TRANSFERS.items():
        op.create_index(f'ix_transfers_office_id_{column}', 'transfers', ['office_id', column],
                        postgresql_include=include)
    for name, columns, include in REPORTS:
        op.drop_index(name, table_name='reports')
        op.create_index(name, 'reports', columns, postgresql_include=include)
    op.drop_index(RECEIVED, table_name='reports')
    _received_index(RECEIVED_INCLUDE)


def downgrade():
    op.drop_index(OPEN, table_name='reports')
    _open_index(OPEN_BEFORE, OPEN_BEFORE)
    op.drop_index(RECEIVED, table_name='reports')
    _received_index(None)
    for name, columns, _ in reversed(REPORTS):
        op.drop_index(name, table_name='reports')
        op.create_index(name, 'reports', columns)
    for column in reversed(list(TRANSFERS)):
        op.drop_index(f'ix_transfers_office_id_{column}', table_name='transfers')
    for column in OLD_TRANSFERS:
        op.create_index(f'ix_transfers_{column}', 'transfers', [column])
    op.drop_column('reports', 'category_mask')
    op.drop_column('transfers', 'training')
    op.drop_column('transfers', 'report_submitted_at')
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint(op.f('fk_transfers_office_id_offices'), 'transfers', type_='foreignkey')
        op.drop_column('transfers', 'office_id')
    else:  # SQLite drops no column named in a reference: the table is rebuilt
        with op.batch_alter_table('transfers') as batch:
            batch.drop_column('office_id')
