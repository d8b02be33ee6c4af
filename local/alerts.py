"""Alerts, locally: the stack's bus and rule in the emulator, then a queue and a forwarder thread.

moto's EventBridge cannot target SNS (`put_events` fails), so the rule, with the stack's
pattern (`handlers.events.ALERT_PATTERN`), targets an SQS queue, and `AlertForwarder` takes
each incident notification from it, renders the stack's message (`handlers.events.render_message`,
because moto's input transformer only produces JSON) and publishes it to the local SNS topic with
message attributes (severity, host, status, notification) that subscriptions can filter on. With a
webhook, the topic has an HTTP(S) subscription and moto POSTs the SNS notification JSON
(``Type``, ``MessageId``, ``TopicArn``, ``Subject``, ``Message``, ``Timestamp``, signature
fields) inside ``publish``; without one, the alert is printed.

A queue message is deleted only after ``publish`` returned, so an alert survives a webhook that
is down (moto's ``publish`` fails when the subscriber is unreachable): it is retried when its
visibility timeout ends, and after ``MAX_RECEIVES`` attempts it goes to the local DLQ.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlparse

from handlers.events import (
    ALERT_PATTERN,
    RETRY_ATTEMPTS,
    RETRY_MAX_AGE_S,
    message_attributes,
    render_message,
    subject,
)

log = logging.getLogger(__name__)

MAX_RECEIVES = 5
VISIBILITY_S = 10


def bus_name(prefix: str) -> str:
    """The alert bus's name, as the stack names it (``<prefix>-alerts``)."""
    return f"{prefix}-alerts"


@dataclass(frozen=True, slots=True)
class AlertResources:
    bus: str
    rule: str
    queue_url: str
    dlq_url: str
    topic_arn: str


def _queue(sqs: Any, name: str, attributes: dict[str, str] | None = None) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes or {})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def create_resources(emu: Any) -> AlertResources:
    """The bus, the rule (the stack's pattern), its queue target with a DLQ, and the topic."""
    events, sqs, sns = emu.client("events"), emu.client("sqs"), emu.client("sns")
    bus = bus_name(emu.prefix)
    with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
        events.create_event_bus(Name=bus)
    dlq_url, dlq_arn = _queue(sqs, f"{bus}-dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)})
    queue_url, queue_arn = _queue(
        sqs, f"{bus}-queue", {"RedrivePolicy": redrive, "VisibilityTimeout": str(VISIBILITY_S)}
    )
    rule = f"{emu.prefix}-alert-insights"
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(ALERT_PATTERN), State="ENABLED")
    events.put_targets(
        Rule=rule,
        EventBusName=bus,
        Targets=[
            {
                "Id": "alert-queue",
                "Arn": queue_arn,
                "RetryPolicy": {"MaximumRetryAttempts": RETRY_ATTEMPTS, "MaximumEventAgeInSeconds": RETRY_MAX_AGE_S},
                "DeadLetterConfig": {"Arn": dlq_arn},
            }
        ],
    )
    topic_arn = sns.create_topic(Name=bus)["TopicArn"]
    return AlertResources(bus, rule, queue_url, dlq_url, topic_arn)


class AlertForwarder(threading.Thread):
    """Queue -> SNS topic (-> webhook) or console: what the rule's SNS target does in AWS."""

    def __init__(
        self, sqs: Any, sns: Any, resources: AlertResources, webhook: str | None = None, out: TextIO | None = None
    ) -> None:
        super().__init__(name="alert-forwarder", daemon=True)
        self.sqs, self.sns, self.resources, self.webhook = sqs, sns, resources, webhook
        self.out = out or sys.stdout
        self.stop_event = threading.Event()
        self.delivered = 0
        if webhook:
            scheme = urlparse(webhook).scheme
            if scheme not in ("http", "https"):
                raise ValueError(f"--alerts-webhook must be an http(s) URL, got {webhook!r}")
            sns.subscribe(TopicArn=resources.topic_arn, Protocol=scheme, Endpoint=webhook)

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.forward_once(wait_s=1)
            except Exception:  # noqa: BLE001 - keep forwarding; the emulator may be stopping
                log.exception("alert forwarder error; retrying")
                self.stop_event.wait(1.0)

    def forward_once(self, wait_s: int = 0) -> int:
        """Deliver what the queue holds (up to 10 alerts); returns how many were delivered."""
        resp = self.sqs.receive_message(
            QueueUrl=self.resources.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s
        )
        done = 0
        for msg in resp.get("Messages", []):
            try:
                self.deliver(json.loads(msg["Body"]))
            except Exception as exc:  # noqa: BLE001 - left in the queue: retried, then dead-lettered
                log.warning("alert not delivered (retried in %d s): %s", VISIBILITY_S, exc)
                continue
            self.sqs.delete_message(QueueUrl=self.resources.queue_url, ReceiptHandle=msg["ReceiptHandle"])
            done += 1
        self.delivered += done
        return done

    def deliver(self, event: dict) -> None:
        message = render_message(event)
        detail = event.get("detail", {})
        title = subject(detail)
        self.sns.publish(
            TopicArn=self.resources.topic_arn,
            Message=message,
            Subject=title,
            MessageAttributes=message_attributes(detail),
        )
        if self.webhook:
            print(f"alert -> {self.webhook}: {title}", file=self.out, flush=True)
        else:
            print(f"ALERT {title}\n  {message}", file=self.out, flush=True)
