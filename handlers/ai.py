"""AI Lambda: DynamoDB stream batches of new metrics -> detectors -> insights -> alerts."""

from __future__ import annotations

import time

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from detectors import plugins
from iops import telemetry
from iops.dal import aws
from iops.logic.ai import BatchOutcome, Processor, process_batch
from iops.logs import structured
from iops.settings import AiSettings
from iops.tracing import tracer

logger = structured(Logger(service="iops-ai"))
_processor: Processor | None = None


class RecordFailed(RuntimeError):
    """Marks a record whose series could not be fully processed (Lambda retries it)."""


def get_processor() -> Processor:
    """Built on first use and kept for the container's life: plugins load once."""
    global _processor
    if _processor is None:
        settings = AiSettings.from_env()
        detectors, missing = plugins.usable_detectors()  # the plugins read `settings.plugins` themselves
        if missing:  # once per container; the DetectorsMissing metric and its alarm say it every batch
            logger.error(
                "configured detectors are not installed; running the others",
                extra={"missing": missing, "running": list(detectors), "problem": plugins.unknown_names()},
            )
        _processor = Processor(
            ddb=aws.client("dynamodb"),
            events=aws.client("events"),
            settings=settings,
            detectors=detectors,
            missing_detectors=tuple(missing),
            enrichers=plugins.enabled_enrichers(),
            enrich_min_severity=settings.enrich_min_severity,
            enrich_max_calls=settings.enrich_max_calls,
            prediction_settings=settings.predictions,
            pattern_settings=settings.patterns,
        )
    return _processor


def reset() -> None:
    """Forget the cached processor (tests, local system after a config change)."""
    global _processor
    _processor = None


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> dict:
    started = time.monotonic()
    deadline = started + context.get_remaining_time_in_millis() / 1000
    replay = bool(event.get("replay"))  # `iops replay`: stored points re-sent, late ones scored without learning
    processor = get_processor()
    outcome: BatchOutcome = process_batch(processor, event.get("Records", []), deadline, replay=replay)
    telemetry.ai_batch(
        outcome.insights,
        outcome.detector_seconds,
        outcome.detector_failures,
        outcome.detector_timeouts,
        outcome.late,
        missing=len(processor.missing_detectors),
    )
    logger.info(
        "batch",
        extra={
            "records": len(event.get("Records", [])),
            "points": outcome.points,
            "skipped": outcome.skipped,
            "late": outcome.late,
            "detector_timeouts": outcome.detector_timeouts,
            "insights": len(outcome.insights),
            "published": outcome.published,
            "failed_records": len(outcome.failed),
            "detector_failures": outcome.detector_failures,
            "seconds": round(time.monotonic() - started, 3),
        },
    )

    def record_handler(record: DynamoDBRecord) -> None:
        if record.dynamodb and record.dynamodb.sequence_number in outcome.failed:
            raise RecordFailed(f"record {record.dynamodb.sequence_number} must be retried")

    response = process_partial_response(
        event={"Records": event.get("Records", [])},
        record_handler=record_handler,
        processor=BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=not replay),
        context=context,
    )
    if replay:
        response["replay"] = {
            "points": outcome.points,
            "late": outcome.late,
            "insights": len(outcome.insights),
            "published": outcome.published,
            "failed_records": len(outcome.failed),
        }
    return response
