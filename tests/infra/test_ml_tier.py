"""The ML training tier's resource graph, with the endpoint disabled and enabled."""

from __future__ import annotations

import pytest

from components.ml import MlTrainingArgs, MlTrainingTier
from tests.infra.harness import Graph, run

MODEL_DATA = "s3://iops-test-ml/models/iops-lstm-1/output/model.tar.gz"
SAGEMAKER_TYPES = (
    "aws:sagemaker/model:Model",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "aws:sagemaker/endpoint:Endpoint",
    "aws:appautoscaling/target:Target",
    "aws:appautoscaling/policy:Policy",
    "aws:appautoscaling/scheduledAction:ScheduledAction",
)


def build(**kwargs) -> tuple[Graph, dict]:
    tiers: dict = {}

    def program() -> None:
        tiers["ml"] = MlTrainingTier("ml", MlTrainingArgs(prefix="iops-test", **kwargs))

    return run(program), tiers


def statements(graph: Graph) -> list[dict]:
    return graph.one("aws:iam/rolePolicy:RolePolicy", "ml-sagemaker-policy").json_input("policy")["Statement"]


@pytest.fixture(scope="module")
def disabled() -> Graph:
    return build()[0]


@pytest.fixture(scope="module")
def enabled() -> Graph:
    return build(endpoint_enabled=True, model_data_url=MODEL_DATA, business_hours_only=True)[0]


def test_bucket_is_versioned_encrypted_private_expiring_and_tls_only(disabled: Graph) -> None:
    bucket = disabled.one("aws:s3/bucket:Bucket", "ml-bucket")
    assert bucket.inputs["bucketPrefix"] == "iops-test-ml-"
    assert disabled.one("aws:s3/bucketVersioning:BucketVersioning", "ml").inputs["versioningConfiguration"] == {
        "status": "Enabled"
    }
    sse = disabled.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "ml")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    block = disabled.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "ml")
    assert all(
        block.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    rule = disabled.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "ml").inputs["rules"][0]
    assert rule["status"] == "Enabled" and rule["expiration"]["days"] == 90
    assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == 90
    (deny,) = disabled.one("aws:s3/bucketPolicy:BucketPolicy", "ml").json_input("policy")["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [bucket.outputs["arn"], f"{bucket.outputs['arn']}/*"]
    assert deny["Principal"] == "*" and deny["Action"] == "s3:*"


def test_role_is_sagemaker_only_and_least_privilege(disabled: Graph) -> None:
    role = disabled.one("aws:iam/role:Role", "ml-sagemaker-role")
    (trust,) = role.json_input("assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    stmts = statements(disabled)
    for s in stmts:
        assert all("*" not in a for a in s["Action"]), s
    by_sid = {s["Sid"]: s for s in stmts}
    bucket_arn = disabled.one("aws:s3/bucket:Bucket", "ml-bucket").outputs["arn"]
    assert by_sid["ReadWriteObjects"]["Resource"] == f"{bucket_arn}/*"
    assert by_sid["ListBucket"]["Resource"] == bucket_arn
    assert by_sid["Logs"]["Resource"] == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/*"
    wildcard = {s["Sid"] for s in stmts if s["Resource"] == "*"}
    assert wildcard == {"Metrics", "EcrToken"}  # the two actions AWS cannot scope by resource
    assert by_sid["Metrics"]["Condition"] == {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}
    assert by_sid["PullImages"]["Resource"] == [
        "arn:aws:ecr:us-east-1:763104351884:repository/pytorch-inference",
        "arn:aws:ecr:us-east-1:763104351884:repository/pytorch-training",
    ]


def test_disabled_endpoint_creates_no_sagemaker_resources() -> None:
    disabled, tiers = build()
    assert tiers["ml"].endpoint_name is None and tiers["ml"].invoke_statement is None
    counts = disabled.counts()
    assert not any(t in counts for t in SAGEMAKER_TYPES), counts


def test_enabled_endpoint_serves_the_artifact_with_autoscaling(enabled: Graph) -> None:
    model = enabled.one("aws:sagemaker/model:Model", "ml-model")
    container = model.inputs["primaryContainer"]
    assert container["modelDataUrl"] == MODEL_DATA
    assert container["image"] == "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.5-cpu-py311"
    assert container["environment"] == {"SAGEMAKER_PROGRAM": "inference.py"}
    role = enabled.one("aws:iam/role:Role", "ml-sagemaker-role")
    assert model.inputs["executionRoleArn"] == role.outputs["arn"]
    (variant,) = enabled.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "ml").inputs[
        "productionVariants"
    ]
    assert (variant["instanceType"], variant["initialInstanceCount"], variant["variantName"]) == (
        "ml.t2.medium",
        1,
        "AllTraffic",
    )
    endpoint = enabled.one("aws:sagemaker/endpoint:Endpoint", "ml-endpoint")
    assert endpoint.inputs["name"] == "iops-test-lstm"
    target = enabled.one("aws:appautoscaling/target:Target", "ml")
    assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (1, 3)
    assert target.inputs["resourceId"] == "endpoint/iops-test-lstm/variant/AllTraffic"
    assert target.inputs["scalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    policy = enabled.one("aws:appautoscaling/policy:Policy", "ml").inputs
    tracking = policy["targetTrackingScalingPolicyConfiguration"]
    assert policy["policyType"] == "TargetTrackingScaling"
    assert tracking["predefinedMetricSpecification"]["predefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"


def test_business_hours_schedule_scales_to_the_minimum_at_night(enabled: Graph) -> None:
    actions = {a.name: a.inputs for a in enabled.of_type("aws:appautoscaling/scheduledAction:ScheduledAction")}
    assert actions["ml-business-hours"]["schedule"] == "cron(0 8 ? * MON-FRI *)"
    assert actions["ml-business-hours"]["scalableTargetAction"] == {"minCapacity": 1, "maxCapacity": 3}
    assert actions["ml-night"]["schedule"] == "cron(0 20 ? * MON-FRI *)"
    assert actions["ml-night"]["scalableTargetAction"] == {"minCapacity": 1, "maxCapacity": 1}


def test_no_schedule_unless_asked() -> None:
    graph, _ = build(endpoint_enabled=True, model_data_url=MODEL_DATA, instance_type="ml.m5.large", max_instances=2)
    assert not graph.of_type("aws:appautoscaling/scheduledAction:ScheduledAction")
    (variant,) = graph.one("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "ml").inputs[
        "productionVariants"
    ]
    assert variant["instanceType"] == "ml.m5.large"
    assert graph.one("aws:appautoscaling/target:Target", "ml").inputs["maxCapacity"] == 2


def test_custom_image_is_pullable_by_the_role() -> None:
    image = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/iops/lstm-serving:7"
    graph, _ = build(endpoint_enabled=True, model_data_url=MODEL_DATA, image_uri=image)
    assert graph.one("aws:sagemaker/model:Model", "ml").inputs["primaryContainer"]["image"] == image
    pull = next(s for s in statements(graph) if s["Sid"] == "PullImages")
    assert "arn:aws:ecr:eu-west-1:111122223333:repository/iops/lstm-serving" in pull["Resource"]


def test_enabling_the_endpoint_without_a_model_is_refused() -> None:
    with pytest.raises(ValueError, match="sagemakerModelDataUrl"):
        MlTrainingTier("ml", MlTrainingArgs(prefix="iops-test", endpoint_enabled=True))
