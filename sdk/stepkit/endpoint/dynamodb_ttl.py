"""DynamoDB Time to Live on the local endpoint.

moto records a table's TTL setting but never deletes an expired item; DynamoDB does, "typically
within two days of expiration", on a best-effort basis (UpdateTimeToLive's API reference). So a
long-lived state directory would keep every item written with a TTL (the serving router's
predictions, kept a day for ``/feedback``, one per answered request) for ever.

The sweeper deletes, every ``interval`` seconds, the expired items of each table of the
endpoint's region whose TTL is enabled. As DynamoDB's TTL guide says, an item is expired when
its TTL attribute is a Number of epoch seconds earlier than now, and no more than five years
earlier (older values, and values of another type, are ignored). Each item goes by a
DeleteItem through the endpoint itself, conditional on the attribute still being expired
(an item rewritten meanwhile stays): journaled like any other write, and seen by a stream as a
REMOVE, as on AWS. Expired items stay readable until a sweep deletes them, as on AWS.

"Now" is the wall clock (``time.time``): the TTL values are written by code that reads the wall
clock too, whatever clock drives the endpoint's schedules.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger(__name__)

#: An item whose TTL is more than five years in the past is not eligible for deletion.
IGNORED_AFTER_SECONDS = 5 * 365 * 24 * 3600
#: How often the endpoint sweeps: AWS gives no bound tighter than "typically two days", and a
#: sweep scans every TTL table through moto (1.5 s for the demo's 3,000-item router table, the
#: other requests waiting on moto's lock meanwhile), so not often.
DEFAULT_INTERVAL_SECONDS = 900.0


class TtlSweeper:
    """Deletes expired items of TTL-enabled tables, on its own thread (``start``/``close``) or
    when asked (``sweep``)."""

    def __init__(self, client: Callable[[], Any], *, now: Callable[[], float] = time.time,
                 interval: float = DEFAULT_INTERVAL_SECONDS) -> None:
        self.client = client
        self.now = now
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="stepkit-dynamodb-ttl", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sweep()
            except Exception as exc:  # a sweep that fails (a table deleted meanwhile) is tried again later
                LOG.debug("DynamoDB TTL sweep failed: %r", exc)

    def sweep(self) -> int:
        """Delete what has expired now; returns how many items were deleted."""
        ddb = self.client()
        deleted = 0
        for page in ddb.get_paginator("list_tables").paginate():
            for table in page.get("TableNames", []):
                if self._stop.is_set():
                    return deleted
                ttl = ddb.describe_time_to_live(TableName=table).get("TimeToLiveDescription", {})
                if ttl.get("TimeToLiveStatus") == "ENABLED" and ttl.get("AttributeName"):
                    deleted += self._sweep_table(ddb, table, ttl["AttributeName"])
        return deleted

    def _sweep_table(self, ddb: Any, table: str, attribute: str) -> int:
        from botocore.exceptions import ClientError

        now = int(self.now())
        keys = [k["AttributeName"] for k in ddb.describe_table(TableName=table)["Table"]["KeySchema"]]
        names = {"#ttl": attribute, **{f"#k{i}": key for i, key in enumerate(keys)}}
        # Filtered here, not by a FilterExpression: moto fails comparing a String TTL with a Number.
        pages = ddb.get_paginator("scan").paginate(
            TableName=table, ProjectionExpression=", ".join(["#ttl", *(f"#k{i}" for i in range(len(keys)))]),
            ExpressionAttributeNames=names)
        deleted = 0
        for page in pages:
            for item in page.get("Items", []):
                ttl = item.get(attribute, {})
                if "N" not in ttl or not now - IGNORED_AFTER_SECONDS <= float(ttl["N"]) < now:
                    continue
                try:  # only if it still has the TTL seen: an item rewritten since the scan stays
                    ddb.delete_item(TableName=table, Key={key: item[key] for key in keys},
                                    ConditionExpression="#ttl = :seen", ExpressionAttributeNames={"#ttl": attribute},
                                    ExpressionAttributeValues={":seen": ttl})
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                        raise
                    continue
                deleted += 1
        return deleted
