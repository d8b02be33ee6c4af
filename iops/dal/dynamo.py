"""Data access: the DynamoDB calls that read or write many items, under one retry policy.

Every batch read, batch write and transaction in the Lambda code goes through here, so the
limits DynamoDB enforces (100 keys per BatchGetItem, 25 requests per BatchWriteItem, 100 items
per TransactWriteItems; moto does not enforce 25) and what is retried are written once:

- throttling and transient server errors (`RETRYABLE`) are retried with full-jitter
  exponential backoff, for a bounded number of attempts and never past a deadline;
- unprocessed keys and items are retried the same way, and what is still left is returned to
  the caller, which decides what failed (nothing is dropped silently);
- any other error (a validation error, a failed condition, a cancelled transaction) is raised
  at once: retrying cannot help.

Each helper call is one X-Ray subsegment (``## dynamodb <operation>``, annotated with the table,
the item count and what was left), around the calls and retries it makes; botocore's own
subsegments, one per request, nest inside it (`iops.tracing`).

Kept light on purpose (botocore's exceptions and the shared tracer only): every Lambda package imports it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from iops.tracing import subsegment

GET_LIMIT = 100
"""Keys per BatchGetItem call."""
WRITE_LIMIT = 25
"""Requests per BatchWriteItem call (DynamoDB rejects more; moto does not, so it is enforced here)."""
TRANSACT_LIMIT = 100
"""Items per TransactWriteItems call."""
WRITE_THREADS = 8
"""Concurrent UpdateItem calls in `update_each` (a merge needs one call per item)."""

RETRYABLE = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)
"""DynamoDB error codes worth retrying with backoff; anything else is a bug to surface."""


def error_code(exc: BaseException) -> str | None:
    return exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None


def is_retryable(exc: BaseException, codes: frozenset[str] = RETRYABLE) -> bool:
    """A DynamoDB error that may succeed when tried again (throttling, a transient server error)."""
    return error_code(exc) in codes


def backoff(
    attempt: int, base_s: float = 0.025, cap_s: float = 1.0, rand: Callable[[], float] = random.random
) -> float:
    """Full-jitter exponential backoff: a uniform delay below ``base_s * 2**attempt``, capped at ``cap_s``."""
    return min(cap_s, base_s * 2**attempt) * rand()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often, how long apart and until when a DynamoDB call is tried again.

    ``attempt`` counts from 0 (the first try). ``max_attempts=None`` means: until the deadline.
    ``deadline`` is a ``time.monotonic()`` value; a retry whose backoff would reach it is not made.
    ``sleep`` is injectable for tests; None means ``time.sleep`` (looked up at call time).
    """

    max_attempts: int | None = 6
    base_s: float = 0.1
    cap_s: float = 1.0
    deadline: float | None = None
    retryable: frozenset[str] = RETRYABLE
    sleep: Callable[[float], None] | None = None
    rand: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def until(self, deadline: float | None) -> RetryPolicy:
        """This policy, ending at ``deadline`` (``time.monotonic()``)."""
        return replace(self, deadline=deadline)

    def delay(self, attempt: int) -> float:
        return backoff(attempt, self.base_s, self.cap_s, self.rand)

    def retries(self, exc: BaseException) -> bool:
        """Whether ``exc`` is an error this policy retries."""
        return is_retryable(exc, self.retryable)

    def pause(self, attempt: int) -> bool:
        """After failed attempt ``attempt``: sleep the backoff and return True, or False if no retry is left."""
        if self.max_attempts is not None and attempt + 1 >= self.max_attempts:
            return False
        delay = self.delay(attempt)
        if self.deadline is not None and time.monotonic() + delay >= self.deadline:
            return False
        (time.sleep if self.sleep is None else self.sleep)(delay)
        return True


DEFAULT_POLICY = RetryPolicy()
"""Six attempts, 100 ms doubling up to 1 s with full jitter, no deadline: about 1.3 s of waiting at most on average."""
UNTIL_DEADLINE = RetryPolicy(max_attempts=None, base_s=0.025)
"""As many attempts as fit before the deadline (`until()` it), 25 ms doubling up to 1 s: the ingest API's."""


def chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def _in_rounds(
    work: Sequence[dict], size: int, policy: RetryPolicy, send: Callable[[list[dict]], list[dict]]
) -> list[dict]:
    """Send ``work`` in chunks of ``size``; ``send`` returns what DynamoDB left of a chunk (unprocessed).

    A chunk whose call fails with a retryable error is left whole. What is left is sent again in
    the next round, after the policy's pause; what is left when the policy gives up is returned.
    """
    pending = list(work)
    attempt = 0
    while pending:
        retry: list[dict] = []
        for chunk in chunks(pending, size):
            try:
                retry.extend(send(chunk))
            except ClientError as exc:
                if not policy.retries(exc):
                    raise
                retry.extend(chunk)
        pending = retry
        if not pending or not policy.pause(attempt):
            break
        attempt += 1
    return pending


def batch_get(
    ddb: Any,
    table: str,
    keys: Sequence[dict],
    policy: RetryPolicy = DEFAULT_POLICY,
    *,
    consistent: bool = False,
) -> tuple[list[dict], list[dict]]:
    """BatchGetItem of ``keys`` (100 per call); returns the items found and the keys left unread.

    Throttled calls and unprocessed keys are retried under ``policy``; keys that are still not
    read when it gives up are returned (a key that simply does not exist is neither).
    """
    items: list[dict] = []

    def send(chunk: list[dict]) -> list[dict]:
        spec: dict[str, Any] = {"Keys": chunk, **({"ConsistentRead": True} if consistent else {})}
        resp = ddb.batch_get_item(RequestItems={table: spec})
        items.extend(resp.get("Responses", {}).get(table, []))
        return resp.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])

    with subsegment("dynamodb batch_get", table=table, keys=len(keys)) as segment:
        unread = _in_rounds(keys, GET_LIMIT, policy, send)
        segment.put_annotation("unread", len(unread))
    return items, unread


def batch_write(ddb: Any, table: str, requests: Sequence[dict], policy: RetryPolicy = DEFAULT_POLICY) -> list[dict]:
    """BatchWriteItem of ``requests`` (``PutRequest``/``DeleteRequest``, 25 per call); returns those left unwritten.

    Throttled calls and unprocessed items are retried under ``policy``.
    """

    def send(chunk: list[dict]) -> list[dict]:
        resp = ddb.batch_write_item(RequestItems={table: chunk})
        return resp.get("UnprocessedItems", {}).get(table, [])

    with subsegment("dynamodb batch_write", table=table, requests=len(requests)) as segment:
        unwritten = _in_rounds(requests, WRITE_LIMIT, policy, send)
        segment.put_annotation("unwritten", len(unwritten))
    return unwritten


def put_all(ddb: Any, table: str, items: Sequence[dict], policy: RetryPolicy = DEFAULT_POLICY) -> list[dict]:
    """`batch_write` of one PutRequest per item; returns the items left unwritten."""
    return [
        r["PutRequest"]["Item"] for r in batch_write(ddb, table, [{"PutRequest": {"Item": i}} for i in items], policy)
    ]


def transact_write(ddb: Any, items: Sequence[dict], policy: RetryPolicy = DEFAULT_POLICY) -> None:
    """TransactWriteItems of ``items`` (at most 100): all are written or none; retryable errors retried.

    A cancelled transaction (a failed condition, a conflict) is raised at once, as is the last
    retryable error when ``policy`` gives up.
    """
    if not 0 < len(items) <= TRANSACT_LIMIT:
        raise ValueError(f"a transaction takes 1 to {TRANSACT_LIMIT} items, not {len(items)}")
    attempt = 0
    with subsegment("dynamodb transact_write", items=len(items)) as segment:
        while True:
            try:
                ddb.transact_write_items(TransactItems=list(items))
                segment.put_annotation("attempts", attempt + 1)
                return
            except ClientError as exc:
                if not policy.retries(exc) or not policy.pause(attempt):
                    raise
            attempt += 1


def update_each(
    ddb: Any, table: str, requests: Sequence[dict], policy: RetryPolicy, threads: int = WRITE_THREADS
) -> list[int]:
    """UpdateItem each request (``threads`` at a time), each retried under ``policy``.

    Returns the indexes (into ``requests``) that could not be stored before the policy gave up.
    """

    def write(index: int) -> bool:
        attempt = 0
        while True:
            try:
                ddb.update_item(TableName=table, **requests[index])
                return True
            except ClientError as exc:
                if not policy.retries(exc):
                    raise
            if not policy.pause(attempt):
                return False
            attempt += 1

    with subsegment("dynamodb update_each", table=table, requests=len(requests)) as segment:
        if len(requests) == 1:
            failed = [] if write(0) else [0]
        else:
            with ThreadPoolExecutor(max_workers=max(1, min(threads, len(requests)))) as pool:
                stored = list(pool.map(write, range(len(requests))))
            failed = [i for i, ok in enumerate(stored) if not ok]
        segment.put_annotation("unstored", len(failed))
    return failed


def query_all(ddb: Any, **kwargs: Any) -> list[dict]:
    """Every item of a Query, page after page (internal work lists: no page token goes to a caller)."""
    items: list[dict] = []
    while True:
        resp = ddb.query(**kwargs)
        items.extend(resp.get("Items", []))
        if not resp.get("LastEvaluatedKey"):
            return items
        kwargs = {**kwargs, "ExclusiveStartKey": resp["LastEvaluatedKey"]}
