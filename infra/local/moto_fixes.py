"""A fix to the embedded emulator's cost, not to its behaviour.

moto 5.2's TransactWriteItems backs up the whole table before it runs, with a deep copy, once
per item of the transaction: a change that also moves 15 report counters deep-copies the
table 17 times, so every write costs O(items × table size), and `ticketflow dev` slows to
seconds per action after a few dozen tickets (measured: ~1 s per agent action at 25 tickets).

``apply()`` backs up only the items the transaction touches and restores exactly those when
it is cancelled, which is all the rollback needs (moto derives its indexes from the items).
The transaction's checks and errors are moto's own, unchanged.

moto 5.2's Query also starts from every item of the table, sorted (``Table.all_items()``),
even for one partition of the base table: reading a ticket cost O(table size × log) and took
~140 ms at 300 tickets. ``apply()`` hands a base-table Query only its partition, and an index
Query the items unsorted (it sorts what matches by the index keys itself). The results, their
order and pagination are moto's own, unchanged.

moto 5.2's SQS ReceiveMessage checks each message it hands out against the queue's retention
period by building every attribute of the queue, approximate counts included, three times: a
pass over all the queue's messages for each one received. A queue a few thousand deep (the
sweep's safety net re-driving a backlog) took seconds per receive and starved the whole
stack. ``apply()`` reads the retention period alone; the verdict is moto's own.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_PATCHED = False
# What the Query running on this thread (moto's server gives each request a thread) needs of
# Table.all_items(): None (all, sorted: moto's own), _UNSORTED, or one partition's hash key.
_QUERY_SCOPE = threading.local()
_UNSORTED = object()


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
    _scope_queries()
    _cheap_retention_check()
    _PATCHED = True


def _cheap_retention_check() -> None:
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_period + message.sent_timestamp / 1000 > unix_time())

    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]


def _scope_queries() -> None:
    from moto.dynamodb.models.table import Table

    all_items, query = Table.all_items, Table.query

    def scoped_all_items(self: Any) -> list[Any]:
        scope = getattr(_QUERY_SCOPE, "value", None)
        if scope is None:
            return all_items(self)
        if scope is _UNSORTED:
            if not self.range_key_attr:
                return list(self.items.values())
            return [item for partition in self.items.values() for item in partition.values()]
        partition = self.items.get(scope)  # .get: the defaultdict must not grow an empty partition
        if partition is None:
            return []
        return list(partition.values()) if self.range_key_attr else [partition]

    def scoped_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # moto's backend passes index_name as the 8th positional argument (after hash_key, 7th here)
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        # The base table keeps only the items whose hash key is the one asked for, and sorts
        # them by range key; an index sorts its matches by its own keys. Either way the order
        # of all_items() does not matter, only which items it offers.
        _QUERY_SCOPE.value = _UNSORTED if index_name or hash_key is None else hash_key
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _QUERY_SCOPE.value = None

    Table.all_items = scoped_all_items  # type: ignore[method-assign]
    Table.query = scoped_query  # type: ignore[method-assign]
