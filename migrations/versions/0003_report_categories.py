"""report categories as rows; a reporter's list index

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:30:00.000000

Categories move from the JSON list ``reports.categories`` to one row per code in
``report_categories``, so statistics and filters are the same SQL on SQLite and
PostgreSQL and use an index. Existing lists are copied in the database itself
(``json_each`` on SQLite, ``json_array_elements_text`` on PostgreSQL), then the
column is dropped.

On SQLite the column is dropped with a plain ``ALTER TABLE ... DROP COLUMN``
(SQLite 3.35+), not a batch rebuild: rebuilding ``reports`` with foreign keys on
would drop the old table, and its implicit DELETE would cascade to every report's
events, attachments and categories.

A reporter's list gets the index it is read by, (reporter_id, submitted_at DESC,
id DESC), which also serves the foreign key, so the old index on reporter_id alone
goes.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# DOMAIN.md's order, to rebuild the JSON lists in that order on downgrade.
CATEGORY_ORDER = (
    'genital_injury', 'sexual_assault_under_14', 'sexual_assault_pregnancy_14_plus', 'abuse_injury',
    'abnormal_injury_or_death', 'abandonment', 'missing_or_trafficked', 'organised_begging', 'other_serious_harm',
)


def _order_case(column):
    whens = ' '.join(f"WHEN '{code}' THEN {position}" for position, code in enumerate(CATEGORY_ORDER))
    return f'CASE {column} {whens} ELSE {len(CATEGORY_ORDER)} END'


def upgrade():
    op.create_table('report_categories',
    sa.Column('report_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], name=op.f('fk_report_categories_report_id_reports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('report_id', 'code', name=op.f('pk_report_categories'))
    )
    with op.batch_alter_table('report_categories', schema=None) as batch_op:
        batch_op.create_index('ix_report_categories_code_report_id', ['code', 'report_id'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            'INSERT INTO report_categories (report_id, code) '
            'SELECT DISTINCT r.id, c.code FROM reports AS r '
            'CROSS JOIN LATERAL json_array_elements_text(r.categories::json) AS c(code)'
        )
    else:
        op.execute(
            'INSERT INTO report_categories (report_id, code) '
            'SELECT DISTINCT r.id, j.value FROM reports AS r, json_each(r.categories) AS j'
        )
    # Not in a batch: see the module docstring (no rebuild of reports on SQLite).
    op.drop_column('reports', 'categories')

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_reporter_id'))
        batch_op.create_index(
            'ix_reports_reporter_id_submitted_at_id',
            ['reporter_id', sa.literal_column('submitted_at DESC'), sa.literal_column('id DESC')],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_reporter_id_submitted_at_id')
        batch_op.create_index(batch_op.f('ix_reports_reporter_id'), ['reporter_id'], unique=False)

    order = _order_case('c.code')
    if op.get_bind().dialect.name == 'postgresql':
        op.add_column('reports', sa.Column('categories', sa.JSON(), nullable=True))
        op.execute(
            'UPDATE reports SET categories = COALESCE((SELECT json_agg(c.code ORDER BY ' + order + ') '
            'FROM report_categories AS c WHERE c.report_id = reports.id), \'[]\'::json)'
        )
        op.alter_column('reports', 'categories', existing_type=sa.JSON(), nullable=False)
    else:
        # SQLite adds a NOT NULL column only with a default; no rebuild (see the module docstring).
        op.add_column('reports', sa.Column('categories', sa.JSON(), nullable=False, server_default='[]'))
        op.execute(
            'UPDATE reports SET categories = (SELECT json_group_array(code) FROM '
            '(SELECT c.code AS code FROM report_categories AS c WHERE c.report_id = reports.id '
            'ORDER BY ' + order + '))'
        )
    op.drop_table('report_categories')
