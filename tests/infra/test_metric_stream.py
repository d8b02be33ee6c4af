"""CloudWatch Metric Streams (docs/ingest.md): nothing unless ``metricStreamNamespaces`` names some;
then the stream, its Firehose, the backup bucket, the key's secret and roles that do only what they must."""

from __future__ import annotations

import json
from functools import cache

import pytest
from pulumi.runtime import rpc

from components.metric_stream import BACKUP_S3_ACTIONS, FIREHOSE_PATH
from iops.settings import IngestSettings
from policy import rules
from tests.infra.harness import ACCOUNT, Graph, Rec, run_program

METRIC_STREAM = "aws:cloudwatch/metricStream:MetricStream"
FIREHOSE = rules.FIREHOSE
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
ROLE = rules.ROLE
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
FN = rules.FUNCTION
NAMESPACES = ["AWS/EC2", "AWS/RDS"]
OWN_TYPES = (METRIC_STREAM, FIREHOSE, SECRET, SECRET_VERSION)
SECRET_ENV = IngestSettings.env_name("firehose_key_secret_arn")
KEY_ENV = IngestSettings.env_name("firehose_access_key")


@cache
def graph(configured: bool) -> Graph:
    return run_program("dev", {"metricStreamNamespaces": NAMESPACES} if configured else None)


def statements(g: Graph, policy_name: str) -> list[dict]:
    return g.one(ROLE_POLICY, policy_name).json_input("policy")["Statement"]


def ingest_fn(g: Graph) -> Rec:
    return g.one(FN, "ingest-ingest-fn")


def test_the_dev_default_has_none_of_it() -> None:
    g = graph(False)
    assert g.namespace["cfg"].metric_stream_namespaces == []
    assert not [r.name for r in g.resources if r.type in OWN_TYPES or "metric-stream" in r.name]
    assert SECRET_ENV not in ingest_fn(g).inputs["environment"]["variables"]
    assert "secretsmanager" not in json.dumps(statements(g, "ingest-ingest-policy"))


def test_configured_it_has_all_of_it_once() -> None:
    g = graph(True)
    assert {t: len(g.of_type(t)) for t in OWN_TYPES} == dict.fromkeys(OWN_TYPES, 1)
    assert len([b for b in g.of_type("aws:s3/bucket:Bucket") if "metric-stream-backup" in b.name]) == 1
    names = {r.name for r in g.resources}
    assert {"metric-stream-stream-role", "metric-stream-firehose-role", "metric-stream-logs"} <= names


def test_the_metric_stream_sends_json_of_the_named_namespaces_to_the_firehose() -> None:
    g = graph(True)
    stream = g.one(METRIC_STREAM, "metric-stream")
    firehose = g.one(FIREHOSE, "metric-stream")
    assert stream.inputs["outputFormat"] == "json"
    assert stream.inputs["includeFilters"] == [{"namespace": "AWS/EC2"}, {"namespace": "AWS/RDS"}]
    assert "excludeFilters" not in stream.inputs
    assert stream.inputs["firehoseArn"] == firehose.outputs["arn"]
    assert stream.inputs["roleArn"] == g.one(ROLE, "metric-stream-stream-role").outputs["arn"]


def test_the_firehose_delivers_to_the_route_with_the_secrets_key_and_backs_up_failures() -> None:
    g = graph(True)
    firehose = g.one(FIREHOSE, "metric-stream").inputs
    role_arn = g.one(ROLE, "metric-stream-firehose-role").outputs["arn"]
    secret_arn = g.one(SECRET, "metric-stream-key").outputs["arn"]
    bucket = next(b for b in g.of_type("aws:s3/bucket:Bucket") if "metric-stream-backup" in b.name)
    stage = g.one("aws:apigateway/stage:Stage", "ingest-rest-stage")
    http = firehose["httpEndpointConfiguration"]
    assert firehose["destination"] == "http_endpoint"
    assert firehose["serverSideEncryption"] == {"enabled": True, "keyType": "AWS_OWNED_CMK"}
    assert FIREHOSE_PATH == "/firehose/cloudwatch"
    assert http["url"] == stage.outputs["invokeUrl"] + FIREHOSE_PATH
    assert "accessKey" not in http  # Firehose reads the key from the secret: it is in no input here
    assert http["secretsManagerConfiguration"] == {"enabled": True, "secretArn": secret_arn, "roleArn": role_arn}
    assert (http["bufferingInterval"], http["bufferingSize"], http["retryDuration"]) == (60, 1, 300)
    assert http["requestConfiguration"] == {"contentEncoding": "NONE"}
    assert http["roleArn"] == role_arn
    assert http["s3BackupMode"] == "FailedDataOnly"
    assert http["s3Configuration"]["bucketArn"] == bucket.outputs["arn"]
    assert http["s3Configuration"]["roleArn"] == role_arn
    logs = g.one(rules.LOG_GROUP, "metric-stream-logs")
    assert http["cloudwatchLoggingOptions"] == {
        "enabled": True,
        "logGroupName": logs.inputs["name"],
        "logStreamName": "DestinationDelivery",
    }
    assert logs.inputs["retentionInDays"] == 30


def test_the_metric_stream_role_may_only_put_records_into_that_firehose() -> None:
    g = graph(True)
    firehose_arn = g.one(FIREHOSE, "metric-stream").outputs["arn"]
    assert statements(g, "metric-stream-stream-policy") == [
        {"Effect": "Allow", "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"], "Resource": firehose_arn}
    ]
    trust = g.one(ROLE, "metric-stream-stream-role").json_input("assumeRolePolicy")["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "streams.metrics.cloudwatch.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ]


def test_the_firehose_role_may_only_write_the_backup_bucket_read_the_key_and_log() -> None:
    g = graph(True)
    bucket_arn = next(b for b in g.of_type("aws:s3/bucket:Bucket") if "metric-stream-backup" in b.name).outputs["arn"]
    secret_arn = g.one(SECRET, "metric-stream-key").outputs["arn"]
    log_arn = g.one(rules.LOG_GROUP, "metric-stream-logs").outputs["arn"]
    assert statements(g, "metric-stream-firehose-policy") == [
        {"Effect": "Allow", "Action": list(BACKUP_S3_ACTIONS), "Resource": [bucket_arn, f"{bucket_arn}/*"]},
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secret_arn},
        {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": f"{log_arn}:log-stream:DestinationDelivery"},
    ]
    assert BACKUP_S3_ACTIONS == (
        "s3:AbortMultipartUpload",
        "s3:GetBucketLocation",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:ListBucketMultipartUploads",
        "s3:PutObject",
    )
    trust = g.one(ROLE, "metric-stream-firehose-role").json_input("assumeRolePolicy")["Statement"]
    assert [(s["Principal"], s["Condition"]) for s in trust] == [
        ({"Service": "firehose.amazonaws.com"}, {"StringEquals": {"sts:ExternalId": ACCOUNT}})
    ]


def test_only_the_ingest_function_reads_the_secret_and_knows_only_its_arn() -> None:
    g = graph(True)
    secret_arn = g.one(SECRET, "metric-stream-key").outputs["arn"]
    env = ingest_fn(g).inputs["environment"]["variables"]
    assert env[SECRET_ENV] == secret_arn and KEY_ENV not in env
    granted = [s for s in statements(g, "ingest-ingest-policy") if "secretsmanager:GetSecretValue" in s["Action"]]
    assert granted == [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secret_arn}]
    readers = {p.name for p in g.of_type(ROLE_POLICY) if "secretsmanager" in json.dumps(p.json_input("policy"))}
    assert readers == {"ingest-ingest-policy", "metric-stream-firehose-policy"}
    assert not [fn.name for fn in g.of_type(FN) if KEY_ENV in fn.inputs["environment"]["variables"]]


def test_the_key_is_in_the_secret_and_no_other_resource() -> None:
    g = graph(True)
    key = g.one("random:index/randomPassword:RandomPassword", "metric-stream-key").outputs["result"]
    version = g.one(SECRET_VERSION, "metric-stream-key")
    wrapped = version.inputs["secretString"]  # a Pulumi secret: encrypted in the state, masked in the CLI
    assert wrapped[rpc._special_sig_key] == rpc._special_secret_sig
    assert json.loads(wrapped["value"]) == {"api_key": key}
    assert version.inputs["secretId"] == "metric-stream-key-secret-id"
    holders = [
        r.name
        for r in g.resources
        if r.type != "random:index/randomPassword:RandomPassword" and key in json.dumps(r.inputs, default=str)
    ]
    assert holders == [version.name]


def test_the_backup_bucket_is_private_encrypted_tls_only_and_expires() -> None:
    g = graph(True)
    res = rules.link_by_value([rules.Res(r.type, r.name, {**r.outputs, "id": f"{r.name}-id"}) for r in g.resources])
    bucket = "metric-stream-backup"
    for rule in (rules.check_bucket_encryption, rules.check_bucket_public_access, rules.check_bucket_tls):
        assert rule(res) == []
        assert bucket in [k for k, _ in rule([r for r in res if not r.key.startswith(f"{bucket}-")])]
    lifecycle = g.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket).inputs
    assert lifecycle["bucket"] == f"{bucket}-id"
    assert [(r["status"], r["expiration"]["days"]) for r in lifecycle["rules"]] == [("Enabled", 14)]


@pytest.mark.parametrize("namespaces", [["AWS/EC2", "AWS/EC2"], ["AWS/EC2", ""]])
def test_duplicate_or_empty_namespaces_are_refused(namespaces: list[str]) -> None:
    with pytest.raises(Exception, match="distinct non-empty"):
        run_program("dev", {"metricStreamNamespaces": namespaces})
