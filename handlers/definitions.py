"""One definition of every table, index and route.

The Pulumi components build DynamoDB tables and API Gateway routes from these, and the
local system creates the same tables in moto and dispatches HTTP requests with the same
route table, so the two can never drift apart. Nothing here imports pulumi.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Index:
    name: str
    hash_key: str
    range_key: str


@dataclass(frozen=True, slots=True)
class Table:
    """A DynamoDB table: ``logical`` names it in config, env vars and resource names."""

    logical: str
    hash_key: str
    range_key: str | None
    attributes: dict[str, str]
    """Types ("S", "N", "B") of every key attribute, table and indexes."""
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    stream_view: str | None = None
    env_var: str = ""

    def physical_name(self, prefix: str) -> str:
        return f"{prefix}-{self.logical}"

    def create_table_kwargs(self, name: str) -> dict:
        """Arguments for boto3 ``create_table`` (the local system's copy of this table)."""
        keys = [{"AttributeName": self.hash_key, "KeyType": "HASH"}]
        if self.range_key:
            keys.append({"AttributeName": self.range_key, "KeyType": "RANGE"})
        kwargs: dict = {
            "TableName": name,
            "KeySchema": keys,
            "AttributeDefinitions": [{"AttributeName": a, "AttributeType": t} for a, t in self.attributes.items()],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.indexes:
            kwargs["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": ix.name,
                    "KeySchema": [
                        {"AttributeName": ix.hash_key, "KeyType": "HASH"},
                        {"AttributeName": ix.range_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
                for ix in self.indexes
            ]
        if self.stream_view:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": self.stream_view}
        return kwargs


METRICS = Table(
    logical="metrics",
    hash_key="hostname",
    range_key="timestamp",
    attributes={"hostname": "S", "timestamp": "N"},
    ttl_attribute="ttl",
    stream_view="NEW_AND_OLD_IMAGES",
    env_var="METRICS_TABLE",
)
"""One item per (host or `ib/<stream>`, epoch milliseconds); each metric is its own numeric attribute,
merged by UpdateItem. The stream carries old and new images so the AI tier scores only what a write added."""

SEVERITY_INDEX = "severity-timestamp-index"
RECENT_INDEX = "recent-index"
ENTITY_INDEX = "entity-timestamp-index"

INSIGHTS = Table(
    logical="insights",
    hash_key="insightId",
    range_key="timestamp",
    attributes={"insightId": "S", "timestamp": "N", "severity": "S", "entity_type": "S", "entity_id": "S"},
    indexes=(
        Index(SEVERITY_INDEX, "severity", "timestamp"),
        # Every insight carries entity_type="insight", so this index lists all insights newest first.
        Index(RECENT_INDEX, "entity_type", "timestamp"),
        Index(ENTITY_INDEX, "entity_id", "timestamp"),
    ),
    ttl_attribute="ttl",
    env_var="INSIGHTS_TABLE",
)

DETECTOR_STATE = Table(
    logical="detector-state",
    hash_key="seriesKey",
    range_key=None,
    attributes={"seriesKey": "S"},
    ttl_attribute="ttl",
    env_var="STATE_TABLE",
)
"""Per-series detector state (one item per host#metric), written once per stream batch."""

CORRELATION = Table(
    logical="correlation",
    hash_key="groupKey",
    range_key="member",
    attributes={"groupKey": "S", "member": "S"},
    ttl_attribute="ttl",
    env_var="CORRELATION_TABLE",
)
"""Recent anomalies per pattern group (rule|group, then epoch ms), kept a short while (TTL), so
patterns form across stream batches (`iops.logic.patterns`)."""

COUNTERS = Table(
    logical="counters",
    hash_key="seriesKey",
    range_key=None,
    attributes={"seriesKey": "S"},
    ttl_attribute="ttl",
    env_var="COUNTERS_TABLE",
)
"""The last sample of each cumulative counter (host|field) a standard format sent, so the next
request's sample becomes a per-second rate (`iops.logic.samples`); kept a few days (TTL)."""

STATUS_INDEX = "status-updated-index"
INCIDENT_RECENT_INDEX = "recent-updated-index"

INCIDENTS = Table(
    logical="incidents",
    hash_key="incidentId",
    range_key=None,
    attributes={"incidentId": "S", "status": "S", "updated_at": "N", "entity_type": "S"},
    indexes=(
        # open / acknowledged / resolved incidents, newest change first (the list filter and the sweeper)
        Index(STATUS_INDEX, "status", "updated_at"),
        # every incident carries entity_type="incident": all of them, newest change first
        Index(INCIDENT_RECENT_INDEX, "entity_type", "updated_at"),
    ),
    ttl_attribute="ttl",
    env_var="INCIDENTS_TABLE",
)
"""One item per incident (``inc-...``), plus one pointer per host (``host#<host>``: its latest
incident), which has no index attribute and so stays out of both indexes (`iops.logic.incidents`)."""

ACTIVE_INDEX = "kind-ends-index"

SILENCES = Table(
    logical="silences",
    hash_key="silenceId",
    range_key=None,
    attributes={"silenceId": "S", "kind": "S", "ends_at": "N"},
    indexes=(Index(ACTIVE_INDEX, "kind", "ends_at"),),
    ttl_attribute="ttl",
    env_var="SILENCES_TABLE",
)
"""Silences (matchers on host and metric); the index lists those not yet ended. TTL: a week after the end."""

SERIES_FEEDBACK_INDEX = "kind-series-index"

FEEDBACK = Table(
    logical="feedback",
    hash_key="insightId",
    range_key="createdAt",
    attributes={"insightId": "S", "createdAt": "N", "kind": "S", "seriesKey": "S"},
    indexes=(Index(SERIES_FEEDBACK_INDEX, "kind", "seriesKey"),),
    ttl_attribute="ttl",
    env_var="FEEDBACK_TABLE",
)
"""Each verdict on an insight (by whom, when), and per series one rules item (``series#<host#metric>``,
kind="series") that the AI tier reads through the index: what feedback changes on that series."""

TABLES = (METRICS, INSIGHTS, DETECTOR_STATE, CORRELATION, COUNTERS, INCIDENTS, SILENCES, FEEDBACK)


@dataclass(frozen=True, slots=True)
class Route:
    """One API route: which Lambda serves it and what API Gateway demands before calling it.

    ``signed_in``: a valid user-pool ID token in ``Authorization`` (the COGNITO_USER_POOLS authorizer,
    and the local API's check against the pool's JWKS). ``api_key``: a writer's key in ``x-api-key``.
    ``firehose_key``: Kinesis Data Firehose's access key in ``X-Amz-Firehose-Access-Key``, which
    Firehose cannot send as ``x-api-key``; the handler checks it (the route has no other auth).
    ``binary``: the body may be binary (protobuf, snappy), so API Gateway must pass it base64-encoded.
    """

    method: str
    path: str
    function: str
    summary: str
    api_key: bool = False
    signed_in: bool = True
    firehose_key: bool = False
    binary: bool = False
    query: tuple[str, ...] = ()
    required_query: tuple[str, ...] = field(default=())


BINARY_MEDIA_TYPES = ("application/x-protobuf", "application/octet-stream")
"""Content types API Gateway hands to the Lambda as base64 bytes (`Route.binary` routes)."""

INGEST_FN = "ingest"
QUERY_FN = "query"
INSIGHTS_FN = "insights"

ROUTES = (
    Route("POST", "/metrics", INGEST_FN, 'Ingest one metric or {"metrics": [...]}', api_key=True, signed_in=False),
    Route(
        "POST",
        "/v1/metrics",
        INGEST_FN,
        "OTLP/HTTP metrics: an ExportMetricsServiceRequest, protobuf or JSON",
        api_key=True,
        signed_in=False,
        binary=True,
    ),
    Route(
        "POST",
        "/api/v1/write",
        INGEST_FN,
        "Prometheus remote write 1.0: a snappy-compressed protobuf WriteRequest",
        api_key=True,
        signed_in=False,
        binary=True,
    ),
    Route(
        "POST",
        "/firehose/cloudwatch",
        INGEST_FN,
        "CloudWatch Metric Streams (JSON) delivered by Kinesis Data Firehose",
        signed_in=False,
        firehose_key=True,
    ),
    Route(
        "GET",
        "/metrics",
        QUERY_FN,
        "Metrics of a host, newest first",
        query=("hostname", "from", "to", "limit", "nextToken"),
    ),
    Route("GET", "/openapi.json", QUERY_FN, "This API's OpenAPI document", signed_in=False),
    Route(
        "GET",
        "/insights",
        INSIGHTS_FN,
        "Insights, newest first, filtered",
        query=("severity", "host", "type", "since", "limit", "nextToken"),
    ),
    Route("GET", "/insights/recent", INSIGHTS_FN, "The newest insights", query=("limit",)),
    Route("GET", "/insights/{id}", INSIGHTS_FN, "One insight by id"),
    Route("POST", "/insights/{id}/feedback", INSIGHTS_FN, "Feedback on an insight (changes what its series does next)"),
    Route(
        "GET",
        "/incidents",
        INSIGHTS_FN,
        "Incidents, most recently changed first, filtered",
        query=("status", "host", "since", "limit", "nextToken"),
    ),
    Route("GET", "/incidents/{id}", INSIGHTS_FN, "One incident with its insights"),
    Route("POST", "/incidents/{id}/ack", INSIGHTS_FN, "Acknowledge an incident (stops reminders)"),
    Route("POST", "/incidents/{id}/resolve", INSIGHTS_FN, "Resolve an incident"),
    Route("POST", "/silences", INSIGHTS_FN, "Silence incidents matching host and metric for a while"),
    Route("GET", "/silences", INSIGHTS_FN, "Silences not yet ended"),
    Route("DELETE", "/silences/{id}", INSIGHTS_FN, "End a silence"),
)


def routes_for(function: str) -> tuple[Route, ...]:
    return tuple(r for r in ROUTES if r.function == function)


def match_route(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route serving ``method path`` and its path parameters (literal segments win)."""
    parts = [p for p in path.split("/") if p]
    best: tuple[int, Route, dict[str, str]] | None = None
    for route in ROUTES:
        if route.method != method:
            continue
        rparts = [p for p in route.path.split("/") if p]
        if len(rparts) != len(parts):
            continue
        params: dict[str, str] = {}
        literal = 0
        for rp, p in zip(rparts, parts, strict=True):
            if rp.startswith("{") and rp.endswith("}"):
                params[rp[1:-1]] = p
            elif rp == p:
                literal += 1
            else:
                break
        else:
            if best is None or literal > best[0]:
                best = (literal, route, params)
    return (best[1], best[2]) if best else None


def allowed_methods(path: str) -> set[str]:
    """Methods some route accepts on ``path`` (for 405 versus 404, and CORS preflight)."""
    return {r.method for r in ROUTES if match_route(r.method, path) is not None}


# Streaming tier (InfiniBand events through Kinesis): the stack and `iops local --kinesis` both use these.


@dataclass(frozen=True, slots=True)
class Stream:
    """A Kinesis data stream: producers must use ``partition_key_field``'s value as partition key."""

    logical: str
    env_var: str
    partition_key_field: str

    def physical_name(self, prefix: str) -> str:
        return f"{prefix}-{self.logical}"


IB_EVENTS = Stream(logical="ib-events", env_var="IB_EVENTS_STREAM", partition_key_field="stream")
"""InfiniBand stream events; partition key = the event's ``stream`` so one stream's events stay in order."""


def simulator_interval_s(schedule: str) -> int:
    """Seconds between runs of the simulator's ``rate(N unit)`` schedule (the window each run fills)."""
    body = schedule.strip()
    if not (body.startswith("rate(") and body.endswith(")")):
        raise ValueError("simulatorSchedule must be rate(N minute|minutes|hour|hours)")
    amount, unit = body[5:-1].split()
    seconds = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600}.get(unit)
    if seconds is None or int(amount) < 1:
        raise ValueError(f"unsupported simulatorSchedule {schedule!r}")
    return int(amount) * seconds


IB_WINDOWS = Table(
    logical="ib-windows",
    hash_key="stream",
    range_key=None,
    attributes={"stream": "S"},
    ttl_attribute="ttl",
    env_var="IB_STATE_TABLE",
)
"""Per InfiniBand stream: open minute windows, watermark, last sequence number per shard (idempotency)."""

STREAMING_TABLES = (IB_WINDOWS,)
"""Created only when the streaming tier is enabled (not part of ``TABLES``)."""


# The stack's functions and what each does to which table. The components grant exactly these
# operations (IAM), the observability tier alarms on exactly these (DynamoDB publishes
# ThrottledRequests and SystemErrors per table and operation) and `iops cost` counts those alarms.

AI_FN = "ai"
IB_PROCESS_FN = "ib-process"
IB_SIMULATOR_FN = "ib-simulator"
INCIDENT_SWEEPER_FN = "incident-sweeper"

FUNCTIONS = (INGEST_FN, QUERY_FN, AI_FN, INSIGHTS_FN, INCIDENT_SWEEPER_FN)
"""The Lambda functions of every stack, by key (the function is named ``<prefix>-<key>``)."""
STREAMING_FUNCTIONS = (IB_PROCESS_FN,)
"""Added by the streaming tier; ``SIMULATOR_FUNCTIONS`` too when its simulator runs."""
SIMULATOR_FUNCTIONS = (IB_SIMULATOR_FN,)
STREAM_CONSUMERS = (AI_FN, IB_PROCESS_FN)
"""Functions an event source mapping feeds (the metrics table's stream, the Kinesis stream)."""
DEAD_LETTER_QUEUES = ("ai", "alerts", "sweeper")
"""Labels of every stack's dead-letter queues (``<prefix>-<label>-dlq``): the AI mapping's, the alert target's,
the incident sweeper's schedule."""
STREAMING_DEAD_LETTER_QUEUES = ("ib",)

STREAM_READ = ("DescribeStream", "GetRecords", "GetShardIterator", "ListStreams")
"""What an event source mapping does to a DynamoDB stream, as the function's role."""


@dataclass(frozen=True, slots=True)
class TableAccess:
    """One function's use of one table: the DynamoDB operations it is granted (and that are watched)."""

    function: str
    table: Table
    operations: tuple[str, ...]
    indexes: bool = False
    """On the table's indexes too (a Query on a GSI is authorised on the index's ARN)."""
    stream: bool = False
    """On the table's stream instead of the table."""


TABLE_ACCESS = (
    TableAccess(INGEST_FN, METRICS, ("UpdateItem",)),
    TableAccess(INGEST_FN, COUNTERS, ("BatchGetItem", "BatchWriteItem")),
    TableAccess(QUERY_FN, METRICS, ("Query", "Scan")),
    TableAccess(AI_FN, METRICS, STREAM_READ, stream=True),
    TableAccess(AI_FN, METRICS, ("Query",)),  # points since a series' last state checkpoint (replayed)
    TableAccess(AI_FN, DETECTOR_STATE, ("BatchGetItem", "BatchWriteItem")),
    TableAccess(AI_FN, INSIGHTS, ("PutItem", "UpdateItem")),
    TableAccess(AI_FN, CORRELATION, ("BatchWriteItem", "Query", "PutItem")),
    TableAccess(INSIGHTS_FN, INSIGHTS, ("Query",), indexes=True),
    TableAccess(AI_FN, INCIDENTS, ("BatchGetItem", "BatchWriteItem", "GetItem", "PutItem", "UpdateItem")),
    TableAccess(AI_FN, SILENCES, ("Query",), indexes=True),
    TableAccess(AI_FN, FEEDBACK, ("Query",), indexes=True),
    TableAccess(INSIGHTS_FN, INCIDENTS, ("GetItem", "Query", "UpdateItem"), indexes=True),
    TableAccess(INSIGHTS_FN, SILENCES, ("GetItem", "PutItem", "Query", "UpdateItem"), indexes=True),
    TableAccess(INSIGHTS_FN, FEEDBACK, ("PutItem", "UpdateItem")),
    TableAccess(INCIDENT_SWEEPER_FN, INCIDENTS, ("GetItem", "Query", "UpdateItem"), indexes=True),
    TableAccess(INCIDENT_SWEEPER_FN, SILENCES, ("Query",), indexes=True),
    # TransactWriteItems is authorised per item: UpdateItem on the metrics, PutItem on the window state.
    TableAccess(IB_PROCESS_FN, METRICS, ("UpdateItem",)),
    TableAccess(IB_PROCESS_FN, IB_WINDOWS, ("BatchGetItem", "PutItem")),
)


def table_access(function: str) -> tuple[TableAccess, ...]:
    """What ``function`` does to tables, in `TABLE_ACCESS` order."""
    return tuple(a for a in TABLE_ACCESS if a.function == function)


def table_operations(table: Table) -> tuple[str, ...]:
    """Every operation some function performs on ``table`` itself (stream reads excluded), sorted."""
    return tuple(
        sorted({op for a in TABLE_ACCESS if a.table.logical == table.logical and not a.stream for op in a.operations})
    )
