"""IOps Dashboard: one stack per environment. Reads config, composes the tiers, exports outputs."""

import json

import pulumi
import pulumi_aws as aws

from components import artifacts
from components.ai import AiArgs, AiTier
from components.alerting import AlertingArgs, AlertingTier
from components.code import CodeBucket, CodeBucketArgs
from components.config import StackConfig
from components.ingest import IngestArgs, IngestTier
from components.ml import MlTrainingArgs, MlTrainingTier
from components.observability import ObservabilityArgs, ObservabilityTier
from components.site import DashboardSiteTier, SiteArgs
from components.streaming import StreamingArgs, StreamingTier
from detectors import bedrock

cfg = StackConfig()
code = CodeBucket("code", CodeBucketArgs(bucket_prefix=f"{cfg.prefix}-code-"))
api_code = code.upload(artifacts.build(artifacts.API))
ai_code = code.upload(artifacts.build(artifacts.with_extras(artifacts.AI, cfg.extra_detector_packages)))

# The dashboard's CloudFront distribution comes first: the API's CORS origins and the alert links name it.
site = None
origins: list[pulumi.Input[str]] = list(cfg.allowed_origins)
if cfg.dashboard_enabled:
    site = DashboardSiteTier(
        "site",
        SiteArgs(
            prefix=cfg.prefix,
            dist_dir=artifacts.ROOT / "dashboard" / "dist",
            api_origin=aws.get_region_output().region.apply(lambda r: f"https://*.execute-api.{r}.amazonaws.com"),
            price_class=cfg.dashboard_price_class,
        ),
    )
    if origins != ["*"]:
        origins = [site.url, *origins]

ingest = IngestTier(
    "ingest",
    IngestArgs(
        prefix=cfg.prefix,
        code=api_code,
        ingest_memory_mb=cfg.ingest_memory_mb,
        ingest_timeout_s=cfg.ingest_timeout_s,
        ingest_reserved_concurrency=cfg.ingest_reserved_concurrency,
        query_memory_mb=cfg.query_memory_mb,
        query_timeout_s=cfg.query_timeout_s,
        max_metrics_per_request=cfg.max_metrics_per_request,
        metrics_ttl_days=cfg.metrics_ttl_days,
        log_retention_days=cfg.log_retention_days,
        throttle_rate_limit=cfg.api_throttle_rate_limit,
        throttle_burst_limit=cfg.api_throttle_burst_limit,
        allowed_origins=origins,
    ),
)

alerting = AlertingTier(
    "alerting",
    AlertingArgs(
        prefix=cfg.prefix,
        emails=cfg.alert_emails,
        sms_numbers=cfg.alert_sms_numbers,
        webhooks=cfg.alert_webhooks,
        min_risk_score=cfg.alert_min_risk_score,
        # alarmEmail is subscribed to the same ops topic by the observability tier: not twice
        ops_emails=[e for e in cfg.ops_alert_emails if e != cfg.alarm_email],
    ),
)
bedrock_statements = (
    [
        pulumi.Output.all(aws.get_region_output().region, aws.get_caller_identity_output().account_id).apply(
            lambda a: {
                "Effect": "Allow",
                "Action": ["bedrock:InvokeModel"],
                "Resource": bedrock.resource_arns(cfg.bedrock_model_id, *a),
            }
        )
    ]
    if cfg.bedrock_enabled
    else []
)

ml = None
ml_environment: dict[str, pulumi.Input[str]] = {}
ml_statements: list[pulumi.Input[dict]] = []
if cfg.ml_enabled:
    ml = MlTrainingTier(
        "ml",
        MlTrainingArgs(
            prefix=cfg.prefix,
            endpoint_enabled=cfg.sagemaker_endpoint_enabled,
            model_data_url=cfg.sagemaker_model_data_url or None,
            image_uri=cfg.sagemaker_image_uri or None,
            instance_type=cfg.sagemaker_instance_type,
            min_instances=cfg.sagemaker_min_instances,
            max_instances=cfg.sagemaker_max_instances,
            business_hours_only=cfg.sagemaker_business_hours_only,
        ),
    )
    if ml.endpoint_name is not None and ml.invoke_statement is not None:
        ml_environment["SAGEMAKER_ENDPOINT_NAME"] = ml.endpoint_name
        ml_statements.append(ml.invoke_statement)

ai = AiTier(
    "ai",
    AiArgs(
        prefix=cfg.prefix,
        code=ai_code,
        api_code=api_code,
        api=ingest.api,
        metrics_stream_arn=ingest.metrics_table.stream_arn,
        memory_mb=cfg.ai_memory_mb,
        timeout_s=cfg.ai_timeout_s,
        reserved_concurrency=cfg.ai_reserved_concurrency,
        query_memory_mb=cfg.query_memory_mb,
        query_timeout_s=cfg.query_timeout_s,
        batch_size=cfg.stream_batch_size,
        batching_window_s=cfg.stream_batching_window_s,
        max_retries=cfg.stream_max_retries,
        insights_ttl_days=cfg.insights_ttl_days,
        anomaly_threshold=float(cfg.anomaly_threshold),
        detectors=cfg.detectors,
        enrich_min_severity=cfg.enrich_min_severity,
        enrich_max_calls=cfg.enrich_max_calls,
        log_retention_days=cfg.log_retention_days,
        allowed_origins=origins,
        event_bus_name=alerting.bus.name,
        event_bus_arn=alerting.bus.arn,
        extra_environment={
            bedrock.ENABLED_ENV: str(cfg.bedrock_enabled).lower(),
            bedrock.MODEL_ENV: cfg.bedrock_model_id,
            "PREDICTION_LIMITS": json.dumps({k: float(v) for k, v in json.loads(cfg.prediction_limits).items()}),
            "PREDICTION_HORIZON_HOURS": str(cfg.prediction_horizon_hours),
            "FORECAST_EVERY_POINTS": str(cfg.forecast_every_points),
            "PATTERN_WINDOW_SECONDS": str(cfg.pattern_window_seconds),
            "PATTERN_MIN_HOSTS": str(cfg.pattern_min_hosts),
            **ml_environment,
            **({"DASHBOARD_URL": site.url} if site is not None else {}),
        },
        extra_statements=bedrock_statements + ml_statements,
    ),
)
alerting.allow_publishers([ai.ai_fn.role.arn])

streaming = None
if cfg.streaming_enabled:
    simulator = cfg.simulator_enabled
    streaming = StreamingTier(
        "streaming",
        StreamingArgs(
            prefix=cfg.prefix,
            code=api_code,
            metrics_table_name=ingest.metrics_table.name,
            metrics_table_arn=ingest.metrics_table.arn,
            metrics_ttl_days=cfg.metrics_ttl_days,
            log_retention_days=cfg.log_retention_days,
            shard_count=cfg.kinesis_shard_count,
            retention_hours=cfg.kinesis_retention_hours,
            process_memory_mb=cfg.process_memory_mb,
            batch_size=cfg.kinesis_batch_size,
            parallelization_factor=cfg.kinesis_parallelization_factor,
            max_retries=cfg.kinesis_max_retries,
            lateness_s=cfg.ib_lateness_s,
            simulator_enabled=cfg.stack == "dev" if simulator is None else simulator,
            simulator_schedule=cfg.simulator_schedule,
            simulator_streams=cfg.simulator_streams,
            simulator_events_per_minute=cfg.simulator_events_per_minute,
            simulator_degradation_rate=cfg.simulator_degradation_rate,
        ),
    )

ingest.api.publish()
if site is not None:
    site.publish_config(ingest.api.url)

functions = {"ingest": ingest.ingest_fn.name, "query": ingest.query_fn.name, "ai": ai.ai_fn.name, "insights": ai.insights_fn.name}
tables = {
    "metrics": ingest.metrics_table.name,
    "insights": ai.insights_table.name,
    "detector-state": ai.state_table.name,
    "correlation": ai.correlation_table.name,
}
stream_functions = {"ai": ai.ai_fn.name}
dlqs = {"ai": ai.dlq.name, "alerts": alerting.dlq.name}
if streaming is not None:
    functions["ib-process"] = stream_functions["ib-process"] = streaming.process_fn.name
    tables["ib-windows"] = streaming.state_table.name
    dlqs["ib"] = streaming.dlq.name
    if streaming.simulator_fn is not None:
        functions["ib-simulator"] = streaming.simulator_fn.name
observability = ObservabilityTier(
    "observability",
    ObservabilityArgs(
        prefix=cfg.prefix,
        functions=functions,
        api_name=ingest.api.api.name,
        api_stage=ingest.api.stage.stage_name,
        tables=tables,
        stream_functions=stream_functions,
        dlqs=dlqs,
        ingest_function=ingest.ingest_fn.name,
        ai_function=ai.ai_fn.name,
        detectors=cfg.detectors,
        error_rate_threshold_pct=cfg.error_rate_threshold_pct,
        duration_threshold_ms=cfg.duration_threshold_ms,
        api_5xx_threshold=cfg.api5xx_threshold,
        iterator_age_threshold_ms=cfg.iterator_age_threshold_ms,
        monthly_budget_usd=cfg.monthly_budget_usd,
        alarm_email=cfg.alarm_email,
        sagemaker_endpoint_name=ml.endpoint_name if ml is not None else None,
        alarm_topic_arn=alerting.ops_topic.arn,  # operational alarms never reach the insight topic
    ),
)

pulumi.export("apiUrl", ingest.api.url)
if site is not None:
    pulumi.export("dashboardUrl", site.url)
    pulumi.export("dashboardBucket", site.bucket.bucket)
pulumi.export("apiKey", pulumi.Output.secret(ingest.api.api_key.value))
pulumi.export("metricsTable", ingest.metrics_table.name)
pulumi.export("insightsTable", ai.insights_table.name)
pulumi.export("stateTable", ai.state_table.name)
pulumi.export("ingestFunction", ingest.ingest_fn.name)
pulumi.export("queryFunction", ingest.query_fn.name)
pulumi.export("aiFunction", ai.ai_fn.name)
pulumi.export("insightsFunction", ai.insights_fn.name)
pulumi.export("aiDlqUrl", ai.dlq.url)
pulumi.export("codeBucket", code.bucket.bucket)
pulumi.export("cloudwatchDashboardUrl", observability.dashboard_url)
pulumi.export("alarmTopicArn", observability.alarm_topic_arn)
if observability.sagemaker_dashboard_url is not None:
    pulumi.export("sagemakerDashboardUrl", observability.sagemaker_dashboard_url)
pulumi.export("alertTopicArn", alerting.topic.arn)
pulumi.export("opsTopicArn", alerting.ops_topic.arn)
pulumi.export("eventBusName", alerting.bus.name)
pulumi.export("alertDlqUrl", alerting.dlq.url)
if ml is not None:
    pulumi.export("mlBucket", ml.bucket_name)
    pulumi.export("sagemakerRoleArn", ml.role_arn)
    if ml.endpoint_name is not None:
        pulumi.export("sagemakerEndpointName", ml.endpoint_name)
if streaming is not None:
    pulumi.export("kinesisStreamName", streaming.stream.name)
    pulumi.export("processFunction", streaming.process_fn.name)
    pulumi.export("ibDlqUrl", streaming.dlq.url)
    if streaming.simulator_fn is not None:
        pulumi.export("simulatorFunction", streaming.simulator_fn.name)
