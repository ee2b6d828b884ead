"""A mixin for rows whose personal columns are sealed with a data key."""

from __future__ import annotations

from typing import Any

from app.crypto.models import DataKey
from app.crypto.vault import get_vault


class Sealed:
    """Rows with an ``id`` and a data key; ``seal``/``unseal`` one column at a time.

    The column name, table name and row id go into the associated data, so the
    row id must be set before sealing (models use client-side UUIDs for that).
    """

    __tablename__: str
    id: Any

    def sealing_key(self) -> DataKey:
        key: DataKey = self.data_key  # type: ignore[attr-defined]
        return key

    def seal(self, column: str, value: Any) -> None:
        blob = get_vault().encrypt(self.sealing_key(), self.__tablename__, column, self.id, value)
        setattr(self, column, blob)

    def unseal(self, column: str) -> Any:
        blob = getattr(self, column)
        if blob is None:
            return None
        return get_vault().decrypt(self.sealing_key(), self.__tablename__, column, self.id, blob)
