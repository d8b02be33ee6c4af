"""iops.dal.dynamo: DynamoDB's limits enforced, throttles and unprocessed work retried, never past the policy."""

from __future__ import annotations

import itertools
import threading

import pytest
from botocore.exceptions import ClientError

from iops.dal import dynamo
from iops.dal.dynamo import RetryPolicy, backoff, batch_get, batch_write, is_retryable, transact_write, update_each


def error(code: str, op: str = "BatchWriteItem") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "injected"}}, op)


class FakeTable:
    """An in-memory DynamoDB that enforces the real limits and fails on command.

    ``throttle``: how many calls (of any operation) raise ThrottlingException first.
    ``hold``: per key, how many times it comes back unprocessed before it is served.
    ``refuse``: an error code every call raises (a non-retryable error).
    """

    def __init__(self, throttle: int = 0, hold: dict[str, int] | None = None, refuse: str | None = None) -> None:
        self.items: dict[str, dict] = {}
        self.throttle, self.hold, self.refuse = throttle, dict(hold or {}), refuse
        self.calls: list[tuple[str, int]] = []
        self.consistent: list[bool] = []
        self.lock = threading.Lock()  # update_each calls from a few threads

    def _fail(self, op: str, size: int) -> None:
        with self.lock:
            self.calls.append((op, size))
            throttled = self.throttle > 0
            self.throttle -= throttled
        if self.refuse:
            raise error(self.refuse, op)
        if throttled:
            raise error("ThrottlingException", op)

    def _held(self, key: str) -> bool:
        if self.hold.get(key, 0) > 0:
            self.hold[key] -= 1
            return True
        return False

    def batch_write_item(self, RequestItems: dict) -> dict:
        ((table, requests),) = RequestItems.items()
        if len(requests) > dynamo.WRITE_LIMIT:
            raise error("ValidationException")  # what AWS does and moto does not
        self._fail("write", len(requests))
        unprocessed = []
        for r in requests:
            item = r["PutRequest"]["Item"]
            if self._held(item["k"]["S"]):
                unprocessed.append(r)
            else:
                self.items[item["k"]["S"]] = item
        return {"UnprocessedItems": {table: unprocessed} if unprocessed else {}}

    def batch_get_item(self, RequestItems: dict) -> dict:
        ((table, spec),) = RequestItems.items()
        if len(spec["Keys"]) > dynamo.GET_LIMIT:
            raise error("ValidationException", "BatchGetItem")
        self._fail("get", len(spec["Keys"]))
        self.consistent.append(spec.get("ConsistentRead", False))
        found, unprocessed = [], []
        for key in spec["Keys"]:
            if self._held(key["k"]["S"]):
                unprocessed.append(key)
            elif key["k"]["S"] in self.items:
                found.append(self.items[key["k"]["S"]])
        resp: dict = {"Responses": {table: found}}
        if unprocessed:
            resp["UnprocessedKeys"] = {table: {"Keys": unprocessed}}
        return resp

    def transact_write_items(self, TransactItems: list[dict]) -> dict:
        if len(TransactItems) > dynamo.TRANSACT_LIMIT:
            raise error("ValidationException", "TransactWriteItems")
        self._fail("transact", len(TransactItems))
        for i in TransactItems:
            self.items[i["Put"]["Item"]["k"]["S"]] = i["Put"]["Item"]
        return {}

    def update_item(self, TableName: str, Key: dict) -> dict:
        self._fail("update", 1)
        self.items[Key["k"]["S"]] = Key
        return {}


def item(i: int) -> dict:
    return {"k": {"S": f"key-{i:03d}"}, "v": {"N": str(i)}}


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def policy(**kw) -> tuple[RetryPolicy, Sleeps]:
    sleeps = Sleeps()
    return RetryPolicy(sleep=sleeps, rand=lambda: 1.0, **kw), sleeps


def puts(n: int) -> list[dict]:
    return [{"PutRequest": {"Item": item(i)}} for i in range(n)]


def test_batch_write_sends_at_most_25_per_call() -> None:
    table, (p, sleeps) = FakeTable(), policy()
    assert batch_write(table, "t", puts(60), p) == []
    assert table.calls == [("write", 25), ("write", 25), ("write", 10)]
    assert len(table.items) == 60 and sleeps == []


def test_batch_get_asks_at_most_100_keys_per_call_and_returns_what_exists() -> None:
    table = FakeTable()
    batch_write(table, "t", puts(150), policy()[0])
    table.calls.clear()
    keys = [{"k": {"S": f"key-{i:03d}"}} for i in range(250)]  # 100 of them do not exist
    found, unread = batch_get(table, "t", keys, policy()[0], consistent=True)
    assert table.calls == [("get", 100), ("get", 100), ("get", 50)]
    assert sorted(i["k"]["S"] for i in found) == [f"key-{i:03d}" for i in range(150)]
    assert unread == [] and table.consistent == [True, True, True]


def test_unprocessed_items_and_keys_are_retried_with_backoff() -> None:
    table, (p, sleeps) = FakeTable(hold={"key-003": 2, "key-029": 1}), policy()
    assert batch_write(table, "t", puts(30), p) == []
    assert table.calls == [("write", 25), ("write", 5), ("write", 2), ("write", 1)]
    assert sleeps == [0.1, 0.2]  # one pause per round, doubling (rand pinned at its maximum)
    table.hold, sleeps[:] = {"key-010": 1}, []
    found, unread = batch_get(table, "t", [{"k": {"S": f"key-{i:03d}"}} for i in range(30)], p)
    assert len(found) == 30 and unread == [] and sleeps == [0.1]
    assert table.calls[-2:] == [("get", 30), ("get", 1)]


def test_throttled_calls_are_retried_until_they_succeed() -> None:
    table, (p, sleeps) = FakeTable(throttle=3), policy()
    assert batch_write(table, "t", puts(10), p) == []
    assert len(table.calls) == 4 and len(table.items) == 10
    assert sleeps == [0.1, 0.2, 0.4]


def test_what_is_left_after_the_last_attempt_is_returned_not_dropped() -> None:
    table, (p, sleeps) = FakeTable(hold={"key-001": 99}), policy(max_attempts=4)
    left = batch_write(table, "t", puts(3), p)
    assert left == [{"PutRequest": {"Item": item(1)}}]
    assert len(table.calls) == 4 and len(sleeps) == 3  # no pause after the last attempt
    assert set(table.items) == {"key-000", "key-002"}
    found, unread = batch_get(table, "t", [{"k": {"S": "key-001"}}, {"k": {"S": "key-002"}}], p)
    assert [i["k"]["S"] for i in found] == ["key-002"] and unread == [{"k": {"S": "key-001"}}]
    assert dynamo.put_all(table, "t", [item(1)], p) == [item(1)]


def test_backoff_grows_to_its_cap_with_full_jitter() -> None:
    assert [backoff(a, 0.1, 1.0, lambda: 1.0) for a in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert backoff(3, 0.1, 1.0, lambda: 0.0) == 0.0
    draws = [backoff(2) for _ in range(200)]
    assert all(0 <= d < 0.1 for d in draws) and len(set(draws)) > 100  # jittered, below 25 ms * 2**2


def test_no_retry_is_started_that_would_end_past_the_deadline(monkeypatch) -> None:
    clock = itertools.count(start=100.0, step=0.05)
    monkeypatch.setattr(dynamo.time, "monotonic", lambda: next(clock))
    table, (p, sleeps) = FakeTable(throttle=1000), policy(max_attempts=None, base_s=0.1)
    left = batch_write(table, "t", puts(5), p.until(100.5))
    assert len(left) == 5
    assert sleeps == [0.1, 0.2] and len(table.calls) == 3  # the next 0.4 s pause would pass 100.5
    assert update_each(table, "t", [{"Key": {"k": {"S": "u"}}}], p.until(0.0)) == [0]


def test_non_retryable_errors_are_raised_at_once() -> None:
    for call in (
        lambda t, p: batch_write(t, "t", puts(3), p),
        lambda t, p: batch_get(t, "t", [{"k": {"S": "a"}}], p),
        lambda t, p: transact_write(t, [{"Put": {"Item": item(1)}}], p),
        lambda t, p: update_each(t, "t", [{"Key": {"k": {"S": "a"}}}] * 3, p),
    ):
        table, (p, sleeps) = FakeTable(refuse="ValidationException"), policy()
        with pytest.raises(ClientError, match="ValidationException"):
            call(table, p)
        assert sleeps == [] and len(table.calls) in (1, 3)  # update_each: one call per item, none retried


def test_a_cancelled_transaction_is_not_retried_a_throttled_one_is() -> None:
    table, (p, sleeps) = FakeTable(refuse="TransactionCanceledException"), policy()
    with pytest.raises(ClientError):
        transact_write(table, [{"Put": {"Item": item(1)}}], p)
    assert len(table.calls) == 1 and sleeps == []
    table, (p, sleeps) = FakeTable(throttle=2), policy()
    transact_write(table, [{"Put": {"Item": item(i)}} for i in range(100)], p)
    assert table.calls == [("transact", 100)] * 3 and sleeps == [0.1, 0.2] and len(table.items) == 100
    table, (p, _) = FakeTable(throttle=99), policy(max_attempts=2)
    with pytest.raises(ClientError, match="ThrottlingException"):
        transact_write(table, [{"Put": {"Item": item(1)}}], p)
    assert len(table.calls) == 2


def test_a_transaction_over_100_items_is_refused_before_it_is_sent() -> None:
    table = FakeTable()
    with pytest.raises(ValueError, match="1 to 100"):
        transact_write(table, [{"Put": {"Item": item(i)}} for i in range(101)])
    with pytest.raises(ValueError):
        transact_write(table, [])
    assert table.calls == []


def test_update_each_retries_each_item_and_reports_the_ones_it_gave_up_on() -> None:
    table, (p, sleeps) = FakeTable(throttle=5), policy(max_attempts=None)
    requests = [{"Key": {"k": {"S": f"u{i}"}}} for i in range(20)]
    assert update_each(table, "t", requests, p.until(float("inf")), threads=4) == []
    assert len(table.calls) == 25 and len(table.items) == 20 and len(sleeps) == 5
    table, (p, _) = FakeTable(throttle=1000), policy(max_attempts=3)
    assert update_each(table, "t", requests[:4], p, threads=2) == [0, 1, 2, 3]
    assert len(table.calls) == 12


def test_what_counts_as_retryable() -> None:
    assert is_retryable(error("ProvisionedThroughputExceededException"))
    assert is_retryable(error("InternalServerError")) and is_retryable(error("TransactionConflictException"))
    assert not is_retryable(error("ConditionalCheckFailedException"))
    assert not is_retryable(error("TransactionCanceledException"))
    assert not is_retryable(RuntimeError("ThrottlingException"))
    assert not RetryPolicy(retryable=frozenset()).retries(error("ThrottlingException"))
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
