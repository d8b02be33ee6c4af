"""Process Lambda: Kinesis batches of InfiniBand events -> per-stream, per-minute metrics in DynamoDB."""

from __future__ import annotations

import time

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from iops.dal import aws
from iops.logic.ib_process import Aggregator, BatchOutcome, process_records
from iops.logs import structured
from iops.settings import IbProcessSettings
from iops.tracing import tracer

logger = structured(Logger(service="iops-ib-process"))
_aggregator: Aggregator | None = None


class RecordFailed(RuntimeError):
    """Marks a record whose stream could not be committed (Lambda retries from it)."""


def get_aggregator() -> Aggregator:
    """Built on first use and kept for the container's life."""
    global _aggregator
    if _aggregator is None:
        settings = IbProcessSettings.from_env()
        _aggregator = Aggregator(
            ddb=aws.client("dynamodb"),
            sqs=aws.client("sqs"),
            metrics_table=settings.metrics_table,
            state_table=settings.state_table,
            dlq_url=settings.dlq_url,
            metrics_ttl_days=settings.metrics_ttl_days,
            lateness_ms=int(settings.lateness_s * 1000),
            max_future_ms=int(settings.max_future_s * 1000),
        )
    return _aggregator


def reset() -> None:
    """Forget the cached aggregator (tests, local system after a config change)."""
    global _aggregator
    _aggregator = None


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    started = time.monotonic()
    records = event.get("Records", [])
    outcome: BatchOutcome = process_records(get_aggregator(), records)
    logger.info(
        "batch",
        extra={
            "records": len(records),
            "events": outcome.events,
            "duplicates": outcome.duplicates,
            "late": outcome.late,
            "invalid": outcome.invalid,
            "dead_lettered": outcome.dead_lettered,
            "minutes_written": outcome.minutes_written,
            "streams": outcome.streams,
            "failed_records": len(outcome.failed),
            "seconds": round(time.monotonic() - started, 3),
        },
    )

    def record_handler(record: KinesisStreamRecord) -> None:
        if record.kinesis.sequence_number in outcome.failed:
            raise RecordFailed(f"record {record.kinesis.sequence_number} must be retried")

    return process_partial_response(
        event=event,
        record_handler=record_handler,
        processor=BatchProcessor(event_type=EventType.KinesisDataStreams),
        context=context,
    )
