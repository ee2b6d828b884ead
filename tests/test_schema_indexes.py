"""Every foreign key column leads an index: deleting a parent row (the training purge, a reporter's removal, a
key's shredding) never reads the whole child table once per row."""

from __future__ import annotations

import app.models  # noqa: F401 - every table registered
from app.extensions import db


def _leading_columns(table) -> set[str]:
    leads = {next(iter(index.columns)).name for index in table.indexes if len(index.columns)}
    for constraint in table.constraints:
        columns = list(getattr(constraint, "columns", []))
        if columns and constraint.__class__.__name__ in {"PrimaryKeyConstraint", "UniqueConstraint"}:
            leads.add(columns[0].name)
    return leads


def test_every_foreign_key_column_leads_an_index_or_key():
    unindexed = [
        f"{table.name}.{fk.parent.name} -> {fk.target_fullname}"
        for table in db.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.parent.name not in _leading_columns(table)
    ]
    assert unindexed == []
