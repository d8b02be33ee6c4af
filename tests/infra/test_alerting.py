"""The alerting graph under Pulumi mocks: rule pattern, target, DLQ, KMS, subscriptions per config,
and the ops topic that operational alarms use instead of the insight topic."""

from __future__ import annotations

import json

import pulumi
import pytest

from detectors import bedrock
from handlers.events import ALERT_PATTERN, ALERT_TRANSFORMER, RETRY_ATTEMPTS, RETRY_MAX_AGE_S, alert_pattern
from tests.infra.harness import ACCOUNT, run_program

RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
BUS = "aws:cloudwatch/eventBus:EventBus"
TOPIC = "aws:sns/topic:Topic"
SUB = "aws:sns/topicSubscription:TopicSubscription"
QUEUE = "aws:sqs/queue:Queue"
KEY = "aws:kms/key:Key"
FN = "aws:lambda/function:Function"

RECIPIENTS = {
    "alertEmails": ["oncall@example.com", "lead@example.com"],
    "alertSmsNumbers": ["+15551234567"],
    "alertWebhooks": ["https://hooks.example.com/iops"],
}


@pytest.fixture(scope="module")
def graph():
    """The dev stack with no recipients configured (the defaults)."""
    return run_program("dev")


@pytest.fixture(scope="module")
def configured():
    """Recipients of every kind, CRITICAL-only alerts and Bedrock switched off."""
    return run_program("dev", {**RECIPIENTS, "alertMinRiskScore": 90, "bedrockEnabled": False})


def statements(rec, key: str = "policy") -> list[dict]:
    return rec.json_input(key)["Statement"]


def test_rule_uses_the_shared_pattern_on_the_alert_bus(graph) -> None:
    bus = graph.one(BUS, "alerting")
    rule = graph.one(RULE, "alerting")
    assert json.loads(rule.inputs["eventPattern"]) == ALERT_PATTERN
    assert ALERT_PATTERN["detail"] == {"risk_score": [{"numeric": [">=", 80]}]}
    assert rule.inputs["eventBusName"] == bus.inputs["name"] == "iops-dev-alerts"


def test_min_risk_score_config_raises_the_bar(configured) -> None:
    rule = configured.one(RULE, "alerting")
    assert json.loads(rule.inputs["eventPattern"]) == alert_pattern(90)


def test_target_is_the_topic_with_retries_dlq_and_readable_message(graph) -> None:
    target = graph.one(TARGET, "alerting")
    topic = graph.one(TOPIC, "alerting-topic")
    dlq = graph.one(QUEUE, "alerting-dlq")
    assert target.inputs["arn"] == topic.outputs["arn"]
    assert target.inputs["retryPolicy"] == {
        "maximumRetryAttempts": RETRY_ATTEMPTS,
        "maximumEventAgeInSeconds": RETRY_MAX_AGE_S,
    }
    assert target.inputs["deadLetterConfig"] == {"arn": dlq.outputs["arn"]}
    assert target.inputs["inputTransformer"] == {
        "inputPaths": ALERT_TRANSFORMER["input_paths"],
        "inputTemplate": ALERT_TRANSFORMER["input_template"],
    }


def test_topic_and_dlq_are_encrypted_with_a_rotating_key_events_and_sns_may_use(graph) -> None:
    key = graph.one(KEY, "alerting")
    assert key.inputs["enableKeyRotation"] is True
    key_arn = key.outputs["arn"]
    assert graph.one(TOPIC, "alerting-topic").inputs["kmsMasterKeyId"] == key_arn
    assert graph.one(QUEUE, "alerting-dlq").inputs["kmsMasterKeyId"] == key_arn
    by_service = {
        s["Principal"]["Service"]: set(s["Action"]) for s in statements(key) if "Service" in s.get("Principal", {})
    }
    assert by_service == {
        "events.amazonaws.com": {"kms:GenerateDataKey", "kms:Decrypt"},
        "sns.amazonaws.com": {"kms:GenerateDataKey", "kms:Decrypt"},
        "cloudwatch.amazonaws.com": {"kms:GenerateDataKey*", "kms:Decrypt"},
        "budgets.amazonaws.com": {"kms:GenerateDataKey*", "kms:Decrypt"},
    }
    admin = next(s for s in statements(key) if "AWS" in s.get("Principal", {}))
    assert admin["Principal"]["AWS"] == f"arn:aws:iam::{ACCOUNT}:root"


def test_only_the_alert_rule_may_publish_to_the_insight_topic(graph) -> None:
    """CloudWatch and Budgets publish to the ops topic: the insight topic admits the rule alone."""
    rule = graph.one(RULE, "alerting")
    topic = graph.one(TOPIC, "alerting-topic")
    policy = graph.one("aws:sns/topicPolicy:TopicPolicy", "alerting-topic-policy")
    assert policy.inputs["arn"] == topic.outputs["arn"]
    allows = [s for s in statements(policy) if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "TheAlertRulePublishes",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic.outputs["arn"],
            "Condition": {"ArnEquals": {"aws:SourceArn": rule.outputs["arn"]}},
        }
    ]
    assert tls_only(policy, topic)


def tls_only(policy, topic) -> bool:
    return {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sns:Publish",
        "Resource": topic.outputs["arn"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    } in statements(policy)


def test_the_ops_topic_is_encrypted_and_only_this_accounts_alarms_and_budget_publish(graph) -> None:
    key = graph.one(KEY, "alerting")
    topic = graph.one(TOPIC, "alerting-ops-topic")
    assert topic.inputs["name"] == "iops-dev-ops" and topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    policy = graph.one("aws:sns/topicPolicy:TopicPolicy", "alerting-ops-topic-policy")
    assert policy.inputs["arn"] == topic.outputs["arn"]
    allows = [s for s in statements(policy) if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": f"{sid}OfThisAccountPublish",
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sns:Publish",
            "Resource": topic.outputs["arn"],
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
        for sid, service in (("CloudWatchAlarms", "cloudwatch.amazonaws.com"), ("Budgets", "budgets.amazonaws.com"))
    ]
    assert tls_only(policy, topic)


OPS = ["sre@example.com", "platform@example.com"]


def test_one_ops_subscription_per_ops_alert_email_on_the_ops_topic_only() -> None:
    g = run_program("dev", {"opsAlertEmails": OPS, **RECIPIENTS})
    ops_topic = g.one(TOPIC, "alerting-ops-topic")
    ops = [s for s in g.of_type(SUB) if s.inputs["topic"] == ops_topic.outputs["arn"]]
    assert sorted((s.inputs["protocol"], s.inputs["endpoint"]) for s in ops) == sorted(("email", e) for e in OPS)
    insight_topic = g.one(TOPIC, "alerting-topic")
    people = {s.inputs["endpoint"] for s in g.of_type(SUB) if s.inputs["topic"] == insight_topic.outputs["arn"]}
    assert people.isdisjoint(OPS) and set(RECIPIENTS["alertEmails"]) <= people


def test_alarm_email_listed_in_ops_alert_emails_is_subscribed_once() -> None:
    g = run_program("dev", {"opsAlertEmails": OPS, "alarmEmail": OPS[0]})
    ops_topic = g.one(TOPIC, "alerting-ops-topic")
    ops = [s.inputs["endpoint"] for s in g.of_type(SUB) if s.inputs["topic"] == ops_topic.outputs["arn"]]
    assert sorted(ops) == sorted(OPS)


def test_dlq_admits_the_rule_and_the_topic_only(graph) -> None:
    dlq = graph.one(QUEUE, "alerting-dlq")
    policy = graph.one("aws:sqs/queuePolicy:QueuePolicy", "alerting")
    assert policy.inputs["queueUrl"] == dlq.outputs["url"]
    sources = {
        s["Principal"]["Service"]: s["Condition"]["ArnEquals"]["aws:SourceArn"]
        for s in statements(policy)
        if s["Action"] == "sqs:SendMessage" and s["Resource"] == dlq.outputs["arn"]
    }
    assert sources == {
        "events.amazonaws.com": graph.one(RULE, "alerting").outputs["arn"],
        "sns.amazonaws.com": graph.one(TOPIC, "alerting-topic").outputs["arn"],
    }


def test_no_recipients_by_default(graph) -> None:
    assert [s for s in graph.of_type(SUB) if "alerting" in s.name] == []  # insight and ops topics alike


def test_one_subscription_per_configured_recipient_each_with_the_dlq(configured) -> None:
    topic = configured.one(TOPIC, "alerting-topic")
    dlq = configured.one(QUEUE, "alerting-dlq")
    subs = [s for s in configured.of_type(SUB) if s.inputs["topic"] == topic.outputs["arn"]]
    assert len(subs) == len([s for s in configured.of_type(SUB) if "alerting" in s.name])  # none on the ops topic
    got = sorted((s.inputs["protocol"], s.inputs["endpoint"]) for s in subs)
    assert got == sorted(
        [("email", e) for e in RECIPIENTS["alertEmails"]]
        + [("sms", n) for n in RECIPIENTS["alertSmsNumbers"]]
        + [("https", u) for u in RECIPIENTS["alertWebhooks"]]
    )
    for s in subs:
        assert s.inputs["topic"] == topic.outputs["arn"]
        assert json.loads(s.inputs["redrivePolicy"]) == {"deadLetterTargetArn": dlq.outputs["arn"]}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"alertWebhooks": ["http://plain.example.com/hook"]}, "https"),
        ({"alertSmsNumbers": ["5551234"]}, "E.164"),
        ({"alertEmails": ["not-an-address"]}, "e-mail"),
        ({"alertMinRiskScore": 70}, "80-100"),
        ({"opsAlertEmails": ["ops-at-example.com"]}, "opsAlertEmails"),
        ({"opsAlertEmails": ["a@example.com", "a@example.com"]}, "twice"),
    ],
)
def test_bad_alert_config_fails_the_program(override: dict, message: str) -> None:
    with pytest.raises(Exception, match=message):
        run_program("dev", override)


def test_only_the_ai_function_and_the_sweeper_may_put_events_on_the_bus(graph) -> None:
    bus = graph.one(BUS, "alerting")
    ai_fn = graph.one(FN, "ai-ai")
    ai_role = graph.one("aws:iam/role:Role", "ai-ai-role")
    assert ai_fn.inputs["environment"]["variables"]["EVENT_BUS_NAME"] == bus.inputs["name"]
    ai_policy = graph.one("aws:iam/rolePolicy:RolePolicy", "ai-ai-policy")
    assert {"Effect": "Allow", "Action": ["events:PutEvents"], "Resource": bus.outputs["arn"]} in statements(ai_policy)
    bus_policy = graph.one("aws:cloudwatch/eventBusPolicy:EventBusPolicy", "alerting")
    assert bus_policy.inputs["eventBusName"] == bus.inputs["name"]
    [deny] = statements(bus_policy)
    assert (deny["Effect"], deny["Principal"], deny["Action"], deny["Resource"]) == (
        "Deny",
        "*",
        "events:PutEvents",
        bus.outputs["arn"],
    )
    sweeper_role = graph.one("aws:iam/role:Role", "ai-incident-sweeper")  # it sends reminders and resolve notices
    assert deny["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": [ai_role.outputs["arn"], sweeper_role.outputs["arn"]]}
    }
    others = [
        s
        for rec in graph.of_type("aws:iam/rolePolicy:RolePolicy")
        if rec.name not in (ai_policy.name, "ai-incident-sweeper-policy")
        for s in statements(rec)
        if "events:PutEvents" in s.get("Action", [])
    ]
    assert others == []


def test_bedrock_is_on_by_default_with_invoke_on_the_model_only(graph) -> None:
    env = graph.one(FN, "ai-ai").inputs["environment"]["variables"]
    assert env[bedrock.ENABLED_ENV] == "true"
    assert env[bedrock.MODEL_ENV] == "anthropic.claude-3-5-haiku-20241022-v1:0"
    invoke = [
        s
        for s in statements(graph.one("aws:iam/rolePolicy:RolePolicy", "ai-ai-policy"))
        if "bedrock:InvokeModel" in s["Action"]
    ]
    assert invoke == [
        {
            "Effect": "Allow",
            "Action": ["bedrock:InvokeModel"],
            "Resource": ["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0"],
        }
    ]


def test_bedrock_disabled_gets_no_permission(configured) -> None:
    env = configured.one(FN, "ai-ai").inputs["environment"]["variables"]
    assert env[bedrock.ENABLED_ENV] == "false"
    policy = configured.one("aws:iam/rolePolicy:RolePolicy", "ai-ai-policy")
    assert not [s for s in statements(policy) if any(a.startswith("bedrock:") for a in s["Action"])]


def test_alerting_outputs_are_exported(monkeypatch) -> None:
    exported: dict[str, object] = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exported.__setitem__(name, value))
    run_program("dev")
    assert {"alertTopicArn", "opsTopicArn", "eventBusName", "alertDlqUrl"} <= set(exported)
