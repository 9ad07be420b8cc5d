"""The endpoint's durable records: SQLite under the state dir.

Tables: ``records`` (kind, key → JSON: state machines, executions, functions, event
source mappings, ...) and ``history`` (an execution's events, one row each, written by the
engine's listener before the transition goes on, so a killed process loses at most the
task that was in flight); ``express_history`` holds EXPRESS executions' events, which
last only as long as the process that ran them. WAL mode with ``synchronous=NORMAL``: a committed row survives
the process being killed.

A history row keeps its event's depth (0: the top level; +1 per Map iteration or Parallel
branch) in a column of its own, with a partial index of the top-level rows: resuming an
execution reads those and its last event, not the iterations of its Maps.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from stepkit.engine.history import HistoryEvent

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS history (
    arn TEXT NOT NULL,
    id INTEGER NOT NULL,
    data TEXT NOT NULL,
    depth INTEGER,
    PRIMARY KEY (arn, id)
);
CREATE TABLE IF NOT EXISTS express_history (
    arn TEXT NOT NULL,
    id INTEGER NOT NULL,
    data TEXT NOT NULL,
    depth INTEGER,
    PRIMARY KEY (arn, id)
);
"""
_TABLES = ("history", "express_history")
#: Top-level rows per read of ``Store.top_level_events`` (the store's lock is held per page).
TOP_LEVEL_PAGE = 500


def _table(arn: str) -> str:
    """EXPRESS executions' events have a table of their own (``delete_express_events``):
    ``arn:PARTITION:states:REGION:ACCOUNT:express:...``."""
    return "express_history" if arn.split(":")[5:6] == ["express"] else "history"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Store:
    """Thread-safe: one connection, one lock, a commit per write."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._add_depth()
        except BaseException:
            self._db.close()
            raise

    def _add_depth(self) -> None:
        """Give a history table written before the depth column had its own that column, and
        index its top-level rows. Rows without a depth (all of them in an old table; those an
        older stepkit wrote since, on every open) get it from their JSON, in one transaction:
        resume reads top-level rows by that column, so none may lack it."""
        for table in _TABLES:
            columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            self._db.execute("BEGIN")
            try:
                if "depth" not in columns:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN depth INTEGER")
                # A partial index of the rows without a depth (normally none): finding them costs
                # nothing per open, however long the histories.
                self._db.execute(f"CREATE INDEX IF NOT EXISTS {table}_nodepth ON {table} (arn) WHERE depth IS NULL")
                self._db.execute(f"UPDATE {table} SET depth = json_extract(data, '$.depth') WHERE depth IS NULL")
                self._db.execute(f"CREATE INDEX IF NOT EXISTS {table}_top ON {table} (arn, id) WHERE depth = 0")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- records --------------------------------------------------------------------------
    def put(self, kind: str, key: str, data: Any) -> None:
        text = _dumps(data)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO records (kind, key, data) VALUES (?, ?, ?)", (kind, key, text))

    def get(self, kind: str, key: str) -> Any:
        with self._lock:
            row = self._db.execute("SELECT data FROM records WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        return None if row is None else json.loads(row[0])

    def delete(self, kind: str, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))

    def all(self, kind: str) -> list[Any]:
        with self._lock:
            rows = self._db.execute("SELECT data FROM records WHERE kind = ? ORDER BY rowid", (kind,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    # -- history --------------------------------------------------------------------------
    def add_event(self, arn: str, event: HistoryEvent) -> None:
        text = _dumps(event.to_record())
        with self._lock:
            self._db.execute(f"INSERT OR REPLACE INTO {_table(arn)} (arn, id, data, depth) VALUES (?, ?, ?, ?)",
                             (arn, event.event_id, text, event.depth))

    def add_events(self, arn: str, events: Iterable[HistoryEvent]) -> None:
        rows = [(arn, e.event_id, _dumps(e.to_record()), e.depth) for e in events]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                f"INSERT OR REPLACE INTO {_table(arn)} (arn, id, data, depth) VALUES (?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def events(self, arn: str) -> list[HistoryEvent]:
        with self._lock:
            rows = self._db.execute(f"SELECT data FROM {_table(arn)} WHERE arn = ? ORDER BY id", (arn,)).fetchall()
        return [HistoryEvent.from_record(json.loads(r[0])) for r in rows]

    def events_page(self, arn: str, limit: int, *, boundary: int | None = None,
                    reverse: bool = False) -> list[HistoryEvent]:
        """At most ``limit`` events by id, after ``boundary`` (before it when ``reverse``):
        a range search of the primary key that reads only the rows it returns, however long
        the history (``page_query`` is the SQL, for its query plan)."""
        sql, args = page_query(arn, limit, boundary=boundary, reverse=reverse)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [HistoryEvent.from_record(json.loads(r[0])) for r in rows]

    def top_level_events(self, arn: str) -> Iterator[HistoryEvent]:
        """The top-level (depth 0) events of ``arn`` in id order, read a page at a time from
        the partial index of those rows (``top_level_query``): what resuming an execution
        needs, reading none of the events of its Map iterations and Parallel branches."""
        after = 0
        while True:
            sql, args = top_level_query(arn, after, TOP_LEVEL_PAGE)
            with self._lock:
                rows = self._db.execute(sql, args).fetchall()
            for row in rows:
                yield HistoryEvent.from_record(json.loads(row[0]))
            if len(rows) < TOP_LEVEL_PAGE:
                return
            after = rows[-1][1]

    def last_event(self, arn: str) -> HistoryEvent | None:
        """The last event recorded for ``arn`` (None: none); one step down the index."""
        events = self.events_page(arn, 1, reverse=True)
        return events[0] if events else None

    def last_event_id(self, arn: str) -> int:
        """The id of the last event recorded for ``arn`` (0: none); one step down the index."""
        with self._lock:
            row = self._db.execute(f"SELECT MAX(id) FROM {_table(arn)} WHERE arn = ?", (arn,)).fetchone()
        return row[0] or 0

    def delete_events(self, arn: str, after: int = 0) -> None:
        with self._lock:
            self._db.execute(f"DELETE FROM {_table(arn)} WHERE arn = ? AND id > ?", (arn, after))

    def delete_express_events(self) -> None:
        """Drop the histories of EXPRESS executions an earlier process ran: AWS keeps no
        record of them, and neither does the endpoint across a restart."""
        with self._lock:
            self._db.execute("DELETE FROM express_history")


def top_level_query(arn: str, after: int, limit: int) -> tuple[str, tuple]:
    """The SQL of one page of ``Store.top_level_events``: a range search of the partial
    index of the top-level rows."""
    return (f"SELECT data, id FROM {_table(arn)} WHERE arn = ? AND depth = 0 AND id > ? ORDER BY id LIMIT ?",
            (arn, after, limit))


def page_query(arn: str, limit: int, *, boundary: int | None = None, reverse: bool = False) -> tuple[str, tuple]:
    """The SQL of one page of a history (``Store.events_page``)."""
    order, compare = ("DESC", "<") if reverse else ("ASC", ">")
    table = _table(arn)
    if boundary is None:
        return f"SELECT data FROM {table} WHERE arn = ? ORDER BY id {order} LIMIT ?", (arn, limit)
    return (f"SELECT data FROM {table} WHERE arn = ? AND id {compare} ? ORDER BY id {order} LIMIT ?",
            (arn, boundary, limit))
