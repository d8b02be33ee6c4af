"""Data access for incidents (with one pointer per host to its latest incident) and silences.

Items are plain dicts here (`to_item` / `from_item`); what they mean and when they change is
`iops.logic.incidents`. Every change of an incident is an UpdateItem conditioned on its
``version``, so concurrent writers (two AI batches, a person, the sweeper) never lose each
other's changes: the loser reads again and retries.
"""

from __future__ import annotations

import re
from typing import Any

from handlers.definitions import ACTIVE_INDEX, INCIDENT_RECENT_INDEX, STATUS_INDEX
from iops.dal import dynamo
from iops.dal.metrics import run_query
from iops.models.items import attribute, from_item, to_item

ENTITY_TYPE = "incident"
"""Every incident item carries this in ``entity_type`` (the recent index's key); pointers do not."""
POINTER_PREFIX = "host#"
SILENCE_KIND = "silence"
MAX_PAGES = 10


class Conflict(Exception):
    """The item changed since it was read (its version moved on)."""


def _key(incident_id: str) -> dict[str, dict]:
    return {"incidentId": {"S": incident_id}}


def get(ddb: Any, table: str, incident_id: str, consistent: bool = True) -> dict[str, Any] | None:
    item = ddb.get_item(TableName=table, Key=_key(incident_id), ConsistentRead=consistent).get("Item")
    return from_item(item) if item else None


def get_many(ddb: Any, table: str, ids: list[str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Items by id (incidents or pointers), and the ids that could not be read (throttled)."""
    if not ids:
        return {}, []
    items, unread = dynamo.batch_get(ddb, table, [_key(i) for i in sorted(set(ids))], dynamo.DEFAULT_POLICY)
    return {i["incidentId"]["S"]: from_item(i) for i in items}, [k["incidentId"]["S"] for k in unread]


def create(ddb: Any, table: str, incident: dict[str, Any]) -> bool:
    """Put a new incident; False when one with its (deterministic) id exists already (a replay)."""
    try:
        ddb.put_item(TableName=table, Item=to_item(incident), ConditionExpression="attribute_not_exists(incidentId)")
    except ddb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def update(ddb: Any, table: str, incident_id: str, version: int, changes: dict[str, Any], condition: str = "") -> None:
    """SET (or REMOVE, for None) ``changes`` and bump the version, if the version is still ``version``.

    ``condition`` adds to the version check (names as ``#name``, values as ``:c_name``, in ``changes``
    keys prefixed ``:c_``). Raises `Conflict` when the condition fails.
    """
    values = {k: v for k, v in changes.items() if not k.startswith(":c_")}
    sets = {k: v for k, v in values.items() if v is not None}
    removes = [k for k, v in values.items() if v is None]
    names = {f"#{k}": k for k in values} | {"#version": "version"}
    expr_values = {f":{k}": attribute(v) for k, v in sets.items()}
    expr_values |= {k: attribute(v) for k, v in changes.items() if k.startswith(":c_")}
    expr_values |= {":v": {"N": str(version)}, ":v1": {"N": str(version + 1)}}
    expression = "SET " + ", ".join([f"#{k} = :{k}" for k in sets] + ["#version = :v1"])
    if removes:
        expression += " REMOVE " + ", ".join(f"#{k}" for k in removes)
    cond = "#version = :v" + (f" AND ({condition})" if condition else "")
    names |= {f"#{n}": n for n in re.findall(r"#(\w+)", condition)}
    try:
        ddb.update_item(
            TableName=table,
            Key=_key(incident_id),
            UpdateExpression=expression,
            ConditionExpression=cond,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=expr_values,
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        raise Conflict(incident_id) from None


def set_pointers(ddb: Any, table: str, hosts: list[str], incident_id: str, ttl: int) -> None:
    """Each host now points at ``incident_id`` (its latest incident); raises if some were not written."""
    unwritten = dynamo.put_all(
        ddb,
        table,
        [
            {"incidentId": {"S": POINTER_PREFIX + h}, "current": {"S": incident_id}, "ttl": {"N": str(ttl)}}
            for h in sorted(set(hosts))
        ],
        dynamo.DEFAULT_POLICY,
    )
    if unwritten:
        raise RuntimeError(f"{len(unwritten)} host pointers of {incident_id} not written")


def query(
    ddb: Any,
    table: str,
    *,
    status: str | None,
    host: str | None,
    since_ms: int | None,
    limit: int,
    token: dict | None,
) -> tuple[list[dict[str, Any]], dict | None]:
    """Incidents, most recently changed first: by status (its index) or all (the recent index)."""
    index, key = (STATUS_INDEX, ("status", status)) if status else (INCIDENT_RECENT_INDEX, ("entity_type", ENTITY_TYPE))
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "#k = :k AND updated_at >= :since",
        "ExpressionAttributeNames": {"#k": key[0]},
        "ExpressionAttributeValues": {":k": {"S": key[1]}, ":since": {"N": str(since_ms or 0)}},
        "ScanIndexForward": False,
    }
    if host:
        kwargs["FilterExpression"] = "contains(hosts, :h)"
        kwargs["ExpressionAttributeValues"][":h"] = {"S": host}
    items: list[dict] = []
    start = token
    for _ in range(MAX_PAGES):
        page = {**kwargs, "Limit": max(limit, 25) if host else limit - len(items)}
        if start:
            page["ExclusiveStartKey"] = start
        resp = run_query(ddb.query, **page)
        items.extend(resp.get("Items", [])[: limit - len(items)])
        start = resp.get("LastEvaluatedKey")
        if len(items) >= limit or not start:
            break
    if len(items) >= limit:
        last = items[-1]
        start = {a: last[a] for a in ("incidentId", "updated_at", key[0])}
    return [from_item(i) for i in items], start


def open_incidents(ddb: Any, table: str, statuses: tuple[str, ...], since_ms: int = 0) -> list[dict[str, Any]]:
    """Every incident in one of ``statuses`` changed since ``since_ms`` (the sweeper's work list)."""
    out: list[dict[str, Any]] = []
    for status in statuses:
        kwargs: dict[str, Any] = {
            "TableName": table,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "#s = :s AND updated_at >= :since",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": status}, ":since": {"N": str(since_ms)}},
        }
        out.extend(from_item(i) for i in dynamo.query_all(ddb, **kwargs))
    return out


# --- silences -------------------------------------------------------------------------------------


def put_silence(ddb: Any, table: str, silence: dict[str, Any]) -> None:
    ddb.put_item(TableName=table, Item=to_item({**silence, "kind": SILENCE_KIND}))


def get_silence(ddb: Any, table: str, silence_id: str) -> dict[str, Any] | None:
    item = ddb.get_item(TableName=table, Key={"silenceId": {"S": silence_id}}, ConsistentRead=True).get("Item")
    return from_item(item) if item else None


def end_silence(ddb: Any, table: str, silence_id: str, ends_at: int, by: str, ttl: int) -> bool:
    """End a silence now (it stays listed as ended until its TTL); False if there is none."""
    try:
        ddb.update_item(
            TableName=table,
            Key={"silenceId": {"S": silence_id}},
            UpdateExpression="SET ends_at = :e, ended_by = :b, #ttl = :t",
            ConditionExpression="attribute_exists(silenceId)",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={":e": {"N": str(ends_at)}, ":b": {"S": by}, ":t": {"N": str(ttl)}},
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def active_silences(ddb: Any, table: str, now_ms: int) -> list[dict[str, Any]]:
    """Silences that have not ended (some may start later), by the index on their end."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": ACTIVE_INDEX,
        "KeyConditionExpression": "kind = :k AND ends_at > :now",
        "ExpressionAttributeValues": {":k": {"S": SILENCE_KIND}, ":now": {"N": str(now_ms)}},
    }
    return [from_item(i) for i in dynamo.query_all(ddb, **kwargs)]


def mark(ddb: Any, table: str, incident_id: str, sets: dict[str, Any]) -> None:
    """SET attributes that no decision reads back (e.g. ``silenced_by``), without a version check."""
    ddb.update_item(
        TableName=table,
        Key=_key(incident_id),
        UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in sets),
        ConditionExpression="attribute_exists(incidentId)",
        ExpressionAttributeNames={f"#{k}": k for k in sets},
        ExpressionAttributeValues={f":{k}": attribute(v) for k, v in sets.items()},
    )


def claim(ddb: Any, table: str, incident_id: str, sets: dict[str, Any], condition: str, values: dict[str, Any]) -> bool:
    """SET ``sets`` if ``condition`` holds (a notification's claim); False when someone claimed it first."""
    names = {f"#{k}": k for k in sets} | {f"#{n}": n for n in re.findall(r"#(\w+)", condition)}
    try:
        ddb.update_item(
            TableName=table,
            Key=_key(incident_id),
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in sets),
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":{k}": attribute(v) for k, v in sets.items()}
            | {k: attribute(v) for k, v in values.items()},
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def release(ddb: Any, table: str, incident_id: str, claimed: dict[str, Any], before: dict[str, Any]) -> None:
    """Undo a claim whose notification was not published, if nobody changed those attributes since."""
    condition = " AND ".join(f"#{k} = :c_{k}" for k in claimed)
    restore = {
        k: (before.get(k) if before.get(k) is not None else (False if k == "resolve_notified" else 0)) for k in claimed
    }
    claim(ddb, table, incident_id, restore, condition, {f":c_{k}": v for k, v in claimed.items()})
