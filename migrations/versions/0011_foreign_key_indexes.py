"""every foreign key column leads an index

Revision ID: 0011_foreign_key_indexes
Revises: 0010_step_up_keeps_action
Create Date: 2026-12-07 14:38:45.595219

Deleting a row makes the database look for rows that still point at it. Where the pointing column had no index it
read the whole child table for every deleted row: purging 40,000 practice reports checked ``reports.merged_into_id``
by scanning ``reports`` 40,000 times (104 s on SQLite, 50 s on PostgreSQL, for one test's tear-down), and removing a
reporter scanned the outbox. Plain indexes, no table rebuild; tests/test_schema_indexes.py keeps the rule.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011_foreign_key_indexes'
down_revision = '0010_step_up_keeps_action'
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_outbox_reporter_id", "outbox", "reporter_id"),
    ("ix_reporters_data_key_id", "reporters", "data_key_id"),
    ("ix_reporters_unit_id", "reporters", "unit_id"),
    ("ix_reports_data_key_id", "reports", "data_key_id"),
    ("ix_reports_merged_into_id", "reports", "merged_into_id"),
    ("ix_staff_users_data_key_id", "staff_users", "data_key_id"),
    ("ix_unit_liaisons_data_key_id", "unit_liaisons", "data_key_id"),
]


def upgrade():
    for name, table, column in INDEXES:
        op.create_index(name, table, [column], unique=False)


def downgrade():
    for name, table, _column in reversed(INDEXES):
        op.drop_index(name, table_name=table)
