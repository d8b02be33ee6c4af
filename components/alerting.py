"""Alerting tier: HIGH/CRITICAL incident notifications -> EventBridge bus -> rule -> SNS (KMS) -> people.

The rule's pattern and its input transformer come from `handlers.events`, the definition the
AI Lambda publishes with and the local system uses. One customer managed key encrypts the topic
and the dead-letter queue; its policy lets EventBridge (publishing to the topic, dead-lettering)
and SNS (dead-lettering failed subscription deliveries) use it. Subscriptions come from stack
config: any number of e-mail addresses, SMS numbers and HTTPS webhooks.

Operational alarms (the observability tier's CloudWatch alarms and the cost budget) have a topic
of their own, the ops topic, under the same key: its subscribers (``opsAlertEmails``) are the
people who run the system, and an alarm (an API 5xx burst, a throttled table) never reaches the
people who get insight alerts. Only CloudWatch and Budgets of this account may publish to it;
only the alert rule may publish to the insight topic.

The bus's policy denies ``events:PutEvents`` to every principal but the publishers' roles. The
publisher (the AI function) needs the bus first, so the policy is its own component,
`AlertBusPolicy`, built once the publisher's role exists.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.observability import Monitored
from handlers.events import (
    ALERT_MIN_RISK_SCORE,
    ALERT_TRANSFORMER,
    RETRY_ATTEMPTS,
    RETRY_MAX_AGE_S,
    alert_pattern,
)

E164 = re.compile(r"\+[1-9]\d{6,14}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass
class AlertingArgs:
    prefix: str
    emails: list[str] = field(default_factory=list)
    sms_numbers: list[str] = field(default_factory=list)
    webhooks: list[str] = field(default_factory=list)
    min_risk_score: int = ALERT_MIN_RISK_SCORE
    retry_attempts: int = RETRY_ATTEMPTS
    retry_max_age_s: int = RETRY_MAX_AGE_S
    ops_emails: list[str] = field(default_factory=list)
    """E-mail addresses subscribed to the ops topic (operational alarms and the budget)."""


def subscriptions(args: AlertingArgs) -> list[tuple[str, str]]:
    """(protocol, endpoint) per configured recipient; a bad one fails the preview, not the page."""
    out: list[tuple[str, str]] = []
    for email in args.emails:
        if not EMAIL.fullmatch(email):
            raise ValueError(f"alertEmails: {email!r} is not an e-mail address")
        out.append(("email", email))
    for number in args.sms_numbers:
        if not E164.fullmatch(number):
            raise ValueError(f"alertSmsNumbers: {number!r} is not an E.164 number (+<country><number>)")
        out.append(("sms", number))
    for url in args.webhooks:
        if not url.startswith("https://"):
            raise ValueError(f"alertWebhooks: {url!r} must be an https:// URL")
        out.append(("https", url))
    if len(set(out)) != len(out):
        raise ValueError("alert recipients are listed twice")
    return out


def ops_subscriptions(args: AlertingArgs) -> list[tuple[str, str]]:
    """(protocol, endpoint) per ops recipient: e-mail only (alarm JSON is no text message)."""
    for email in args.ops_emails:
        if not EMAIL.fullmatch(email):
            raise ValueError(f"opsAlertEmails: {email!r} is not an e-mail address")
    if len(set(args.ops_emails)) != len(args.ops_emails):
        raise ValueError("opsAlertEmails lists an address twice")
    return [("email", email) for email in args.ops_emails]


ALARM_PUBLISHERS = {"CloudWatchAlarms": "cloudwatch.amazonaws.com", "Budgets": "budgets.amazonaws.com"}
"""The services that publish to the ops topic: the observability tier's alarms, the budget."""


def key_policy(account: str) -> str:
    """The alert key's policy: each service may use it only on this account's behalf (confused deputy)."""
    same_account = {"StringEquals": {"aws:SourceAccount": account}}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministersTheKey",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "EventBridgePublishesAndDeadLetters",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                    "Resource": "*",
                    "Condition": same_account,
                },
                {
                    "Sid": "SnsDeadLettersFailedDeliveries",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                    "Resource": "*",
                    "Condition": same_account,
                },
                # The observability tier's alarms and the budget publish to the ops topic (same key).
                *(
                    {
                        "Sid": f"{sid}Publish",
                        "Effect": "Allow",
                        "Principal": {"Service": service},
                        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                        "Resource": "*",
                        "Condition": same_account,
                    }
                    for sid, service in ALARM_PUBLISHERS.items()
                ),
            ],
        }
    )


def _tls_only(topic_arn: str) -> dict:
    return {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _only_publishers(bus_arn: str, role_arns: list[str]) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyTheAiFunctionPublishes",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "events:PutEvents",
                "Resource": bus_arn,
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": list(role_arns)}},
            }
        ],
    }


def _service_statement(sid: str, service: str, action: str, resource: str, source_arn: str) -> dict:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": action,
        "Resource": resource,
        "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
    }


class AlertingTier(pulumi.ComponentResource):
    key: aws.kms.Key
    """Encrypts both topics and the dead-letter queue."""
    bus: aws.cloudwatch.EventBus
    """The AI function puts insight events here; the rule matches HIGH/CRITICAL ones."""
    rule: aws.cloudwatch.EventRule
    topic: aws.sns.Topic
    """HIGH/CRITICAL insights, to the people who watch the hosts."""
    ops_topic: aws.sns.Topic
    """Operational alarms and the budget, to the people who run the system."""
    dlq: aws.sqs.Queue
    monitored: Monitored

    def __init__(self, name: str, args: AlertingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:alerting:AlertingTier", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        recipients = subscriptions(args)
        ops_recipients = ops_subscriptions(args)  # both validated before any resource exists
        pattern = alert_pattern(args.min_risk_score)
        account = aws.get_caller_identity_output().account_id

        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{args.prefix}: alert topic and alert dead-letter queue",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=account.apply(key_policy),
            opts=child,
        )
        self.key_alias = aws.kms.Alias(
            f"{name}-key-alias", name=f"alias/{args.prefix}-alerts", target_key_id=self.key.key_id, opts=child
        )
        self.bus = aws.cloudwatch.EventBus(f"{name}-bus", name=f"{args.prefix}-alerts", opts=child)
        self.rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            name=f"{args.prefix}-alert-insights",
            description=f"Incident notifications with risk_score >= {args.min_risk_score} to the alert topic",
            event_bus_name=self.bus.name,
            event_pattern=json.dumps(pattern),
            state="ENABLED",
            opts=child,
        )
        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=f"{args.prefix}-alerts",
            display_name="IOps",
            kms_master_key_id=self.key.arn,
            opts=child,
        )
        self.dlq = aws.sqs.Queue(
            f"{name}-dlq",
            name=f"{args.prefix}-alerts-dlq",
            message_retention_seconds=14 * 86_400,
            kms_master_key_id=self.key.arn,
            kms_data_key_reuse_period_seconds=3600,
            opts=child,
        )
        self.topic_policy = aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, self.rule.arn).apply(
                lambda a: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            _service_statement(
                                "TheAlertRulePublishes", "events.amazonaws.com", "sns:Publish", a[0], a[1]
                            ),
                            _tls_only(a[0]),
                        ],
                    }
                )
            ),
            opts=child,
        )
        self._ops_topic(name, args.prefix, ops_recipients, account, child)
        self.dlq_policy = aws.sqs.QueuePolicy(
            f"{name}-dlq-policy",
            queue_url=self.dlq.url,
            policy=pulumi.Output.all(self.dlq.arn, self.rule.arn, self.topic.arn).apply(
                lambda a: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            _service_statement(
                                "TheAlertRuleDeadLetters", "events.amazonaws.com", "sqs:SendMessage", a[0], a[1]
                            ),
                            _service_statement(
                                "TheTopicDeadLetters", "sns.amazonaws.com", "sqs:SendMessage", a[0], a[2]
                            ),
                        ],
                    }
                )
            ),
            opts=child,
        )
        self.target = aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=self.rule.name,
            event_bus_name=self.bus.name,
            target_id="alert-topic",
            arn=self.topic.arn,
            retry_policy={
                "maximum_retry_attempts": args.retry_attempts,
                "maximum_event_age_in_seconds": args.retry_max_age_s,
            },
            dead_letter_config={"arn": self.dlq.arn},
            input_transformer=ALERT_TRANSFORMER,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.topic_policy, self.dlq_policy]),
        )
        redrive = self.dlq.arn.apply(lambda arn: json.dumps({"deadLetterTargetArn": arn}))
        self.subscriptions = [
            aws.sns.TopicSubscription(
                f"{name}-{protocol}-{hashlib.sha256(endpoint.encode()).hexdigest()[:10]}",
                topic=self.topic.arn,
                protocol=protocol,
                endpoint=endpoint,
                redrive_policy=redrive,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.dlq_policy]),
            )
            for protocol, endpoint in recipients
        ]
        self.monitored = Monitored(dead_letter_queues={"alerts": self.dlq.name})
        self.register_outputs(
            {
                "topicArn": self.topic.arn,
                "opsTopicArn": self.ops_topic.arn,
                "busName": self.bus.name,
                "busArn": self.bus.arn,
                "ruleArn": self.rule.arn,
                "dlqUrl": self.dlq.url,
            }
        )

    def _ops_topic(
        self,
        name: str,
        prefix: str,
        recipients: list[tuple[str, str]],
        account: pulumi.Output[str],
        child: pulumi.ResourceOptions,
    ) -> None:
        """The ops topic: alarms and the budget publish (this account's only), ``opsAlertEmails`` read."""
        self.ops_topic = aws.sns.Topic(
            f"{name}-ops-topic",
            name=f"{prefix}-ops",
            display_name="IOps ops",
            kms_master_key_id=self.key.arn,
            opts=child,
        )
        self.ops_topic_policy = aws.sns.TopicPolicy(
            f"{name}-ops-topic-policy",
            arn=self.ops_topic.arn,
            policy=pulumi.Output.all(self.ops_topic.arn, account).apply(
                lambda a: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            *(
                                {
                                    "Sid": f"{sid}OfThisAccountPublish",
                                    "Effect": "Allow",
                                    "Principal": {"Service": service},
                                    "Action": "sns:Publish",
                                    "Resource": a[0],
                                    "Condition": {"StringEquals": {"aws:SourceAccount": a[1]}},
                                }
                                for sid, service in ALARM_PUBLISHERS.items()
                            ),
                            _tls_only(a[0]),
                        ],
                    }
                )
            ),
            opts=child,
        )
        self.ops_subscriptions = [
            aws.sns.TopicSubscription(
                f"{name}-ops-{protocol}-{hashlib.sha256(endpoint.encode()).hexdigest()[:10]}",
                topic=self.ops_topic.arn,
                protocol=protocol,
                endpoint=endpoint,
                opts=child,
            )
            for protocol, endpoint in recipients
        ]


@dataclass
class AlertBusPolicyArgs:
    alerting: AlertingTier
    """The tier whose bus this is."""
    publisher_role_arns: list[pulumi.Input[str]]
    """The roles that may put events on the bus: the AI function's."""


class AlertBusPolicy(pulumi.ComponentResource):
    """The alert bus's policy: ``events:PutEvents`` denied to every principal but the publishers' roles.

    The policy resource takes the component's name (``alerting-bus-policy``, as when the alerting
    tier made it).
    """

    policy: aws.cloudwatch.EventBusPolicy

    def __init__(self, name: str, args: AlertBusPolicyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:alerting:AlertBusPolicy", name, None, opts)
        bus = args.alerting.bus
        self.policy = aws.cloudwatch.EventBusPolicy(
            name,
            event_bus_name=bus.name,
            policy=pulumi.Output.all(bus.arn, *args.publisher_role_arns).apply(
                lambda a: json.dumps(_only_publishers(a[0], a[1:]))
            ),
            # It was the alerting tier's own child: the alias keeps it (no delete-after-create of the
            # bus's one policy) on stacks deployed before.
            opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(parent=args.alerting)]),
        )
        self.register_outputs({"busPolicy": self.policy.id})
