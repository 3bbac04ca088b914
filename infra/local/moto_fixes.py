"""A fix to the embedded emulator's cost, not to its behaviour.

moto 5.2's TransactWriteItems backs up the whole table before it runs, with a deep copy, once
per item of the transaction: a change that also moves 15 report counters deep-copies the
table 17 times, so every write costs O(items × table size), and `ticketflow dev` slows to
seconds per action after a few dozen tickets (measured: ~1 s per agent action at 25 tickets).

``apply()`` backs up only the items the transaction touches and restores exactly those when
it is cancelled, which is all the rollback needs (moto derives its indexes from the items).
The transaction's checks and errors are moto's own, unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

_PATCHED = False


class _NoTableCopy:
    """Stands in for the ``copy`` module inside moto's DynamoDB backend: a Table "copy" is the
    table itself (the items are backed up by ``_transact_write_items``); anything else is a
    real deep copy."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def apply() -> None:
    global _PATCHED
    if _PATCHED:
        return
    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = models.DynamoDBBackend.transact_write_items

    def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backups = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            source = op.get("Key") or op.get("Item") or {}
            key = {name: source[name] for name in (table.hash_key_attr, table.range_key_attr) if name in source}
            if len(key) < (2 if table.range_key_attr else 1):
                continue  # moto reports the malformed key itself
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            backups.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, item in reversed(backups):
                table.delete_item(hash_value, range_value)
                if item is not None:
                    if range_value is not None:
                        table.items[hash_value][range_value] = item
                    else:
                        table.items[hash_value] = item
            raise

    # Patching moto on purpose: its module's `copy` and one backend method are replaced.
    models.copy = _NoTableCopy()  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    _PATCHED = True
