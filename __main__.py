"""IOps Dashboard: one stack per environment. Reads config, composes the tiers, exports outputs."""

import pulumi
import pulumi_aws as aws

from components import artifacts
from components.ai import AiArgs, AiTier
from components.alerting import AlertBusPolicy, AlertBusPolicyArgs, AlertingArgs, AlertingTier
from components.api import RestApi, RestApiArgs
from components.auth import AuthArgs, UserPool
from components.code import CodeBucket, CodeBucketArgs
from components.config import BuildSettings, StackConfig
from components.ingest import IngestArgs, IngestTier
from components.metric_stream import FirehoseAccessKey, FirehoseAccessKeyArgs, MetricStream, MetricStreamArgs
from components.ml import MlTrainingArgs, MlTrainingTier
from components.observability import ObservabilityArgs, ObservabilityTier
from components.plugin_check import check_detectors
from components.site import DashboardConfig, DashboardConfigArgs, DashboardSiteTier, SiteArgs
from components.streaming import StreamingArgs, StreamingTier
from components.waf import WafArgs, WebAcl
from detectors import bedrock
from iops.settings import PluginSettings, PredictionSettings

cfg = StackConfig()
ai_package = artifacts.build(artifacts.with_extras(artifacts.AI, cfg.extra_detector_packages))
check_detectors(cfg.detectors, cfg.extra_detector_packages, ai_package, BuildSettings.from_env().with_deps)
code = CodeBucket(
    "code",
    CodeBucketArgs(bucket_prefix=f"{cfg.prefix}-code-", packages=[artifacts.build(artifacts.API), ai_package]),
)
api_code, ai_code = code.packages[artifacts.API.kind], code.packages[artifacts.AI.kind]

region = aws.get_region_output().region


def web_acl(scope: str) -> WebAcl | None:
    """The WAF web ACL of ``scope`` (REGIONAL: the API, CLOUDFRONT: the dashboard) when wafEnabled."""
    if not cfg.waf_enabled:
        return None
    return WebAcl(f"waf-{scope.lower()}", WafArgs(prefix=cfg.prefix, scope=scope, rate_limit=cfg.waf_rate_limit))


# The dashboard's CloudFront distribution comes first: the API's CORS origins and the alert links name it.
site = None
origins: list[pulumi.Input[str]] = list(cfg.allowed_origins)
if "*" in origins:
    raise ValueError("allowedOrigins must name origins (https://host): '*' would let any site read signed-in data")
if cfg.dashboard_enabled:
    cdn_acl = web_acl("CLOUDFRONT")
    site = DashboardSiteTier(
        "site",
        SiteArgs(
            prefix=cfg.prefix,
            dist_dir=artifacts.ROOT / "dashboard" / "dist",
            api_origin=region.apply(lambda r: f"https://*.execute-api.{r}.amazonaws.com"),
            sign_in_origin=region.apply(lambda r: f"https://cognito-idp.{r}.amazonaws.com"),
            price_class=cfg.dashboard_price_class,
            web_acl_arn=cdn_acl.arn if cdn_acl is not None else None,
        ),
    )
    origins = [site.url, *origins]
if not origins:
    raise ValueError("no browser may call the API: enable the dashboard or set allowedOrigins")

# Readers sign in to this pool (the API's authorizer, the dashboard's config.json).
auth = UserPool(
    "auth",
    AuthArgs(
        prefix=cfg.prefix,
        mfa=cfg.mfa,
        users=cfg.dashboard_users,
        dashboard_url=site.url if site is not None else None,
    ),
)

# CloudWatch Metric Streams (metricStreamNamespaces): the ingest function checks Firehose's key, so its secret comes first.
firehose_key = (
    FirehoseAccessKey("metric-stream-key", FirehoseAccessKeyArgs(prefix=cfg.prefix))
    if cfg.metric_stream_namespaces
    else None
)
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
        query_reserved_concurrency=cfg.query_reserved_concurrency,
        max_metrics_per_request=cfg.max_metrics_per_request,
        metrics_ttl_days=cfg.metrics_ttl_days,
        log_retention_days=cfg.log_retention_days,
        allowed_origins=origins,
        firehose_key_secret_arn=firehose_key.arn if firehose_key is not None else None,
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
sagemaker_endpoint: pulumi.Input[str] | None = None
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
        sagemaker_endpoint = ml.endpoint_name
        ml_statements.append(ml.invoke_statement)

ai = AiTier(
    "ai",
    AiArgs(
        prefix=cfg.prefix,
        code=ai_code,
        api_code=api_code,
        metrics_stream_arn=ingest.metrics_table.stream_arn,
        metrics_table_name=ingest.metrics_table.name,
        metrics_table_arn=ingest.metrics_table.arn,
        memory_mb=cfg.ai_memory_mb,
        timeout_s=cfg.ai_timeout_s,
        reserved_concurrency=cfg.ai_reserved_concurrency,
        query_memory_mb=cfg.query_memory_mb,
        query_timeout_s=cfg.query_timeout_s,
        insights_reserved_concurrency=cfg.insights_reserved_concurrency,
        batch_size=cfg.stream_batch_size,
        batching_window_s=cfg.stream_batching_window_s,
        max_retries=cfg.stream_max_retries,
        insights_ttl_days=cfg.insights_ttl_days,
        anomaly_threshold=cfg.anomaly_threshold,
        checkpoint_points=cfg.state_checkpoint_points,
        checkpoint_seconds=cfg.state_checkpoint_seconds,
        plugins=PluginSettings(
            detectors=tuple(cfg.detectors),
            weights=cfg.detector_weights,
            bedrock_enabled=cfg.bedrock_enabled,
            bedrock_model_id=cfg.bedrock_model_id,
            sagemaker_endpoint=sagemaker_endpoint,
        ),
        predictions=PredictionSettings(
            limits=cfg.prediction_limits,
            horizon_hours=cfg.prediction_horizon_hours,
            every_points=cfg.forecast_every_points,
        ),
        pattern_window_s=cfg.pattern_window_seconds,
        pattern_min_hosts=cfg.pattern_min_hosts,
        enrich_min_severity=cfg.enrich_min_severity,
        enrich_max_calls=cfg.enrich_max_calls,
        log_retention_days=cfg.log_retention_days,
        allowed_origins=origins,
        incident_quiet_minutes=cfg.incident_quiet_minutes,
        incident_repeat_hours=cfg.incident_repeat_hours,
        sweeper_reserved_concurrency=cfg.incident_sweeper_reserved_concurrency,
        event_bus_name=alerting.bus.name,
        event_bus_arn=alerting.bus.arn,
        dashboard_url=site.url if site is not None else None,
        extra_statements=bedrock_statements + ml_statements,
    ),
)
# The AI function and the incident sweeper publish to the alert bus, so the bus's policy (nobody else may) follows them.
AlertBusPolicy(
    "alerting-bus-policy",
    AlertBusPolicyArgs(alerting=alerting, publisher_role_arns=[ai.ai_fn.role.arn, ai.sweeper_fn.role.arn]),
)

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
            process_reserved_concurrency=cfg.process_reserved_concurrency,
            simulator_reserved_concurrency=cfg.simulator_reserved_concurrency,
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

api_acl = web_acl("REGIONAL")
# The REST API, once every function its routes name exists. It was the ingest tier's child: the alias
# keeps its resources (and their URNs' history) on stacks deployed before it stood on its own.
api = RestApi(
    "ingest-rest",
    RestApiArgs(
        api_name=f"{cfg.prefix}-api",
        functions={**ingest.routes, **ai.routes},
        throttle_rate_limit=cfg.api_throttle_rate_limit,
        throttle_burst_limit=cfg.api_throttle_burst_limit,
        allowed_origins=origins,
        log_retention_days=cfg.log_retention_days,
        user_pool_arn=auth.pool.arn,
        writers=cfg.writers,
        writer_rate_limit=cfg.writer_rate_limit,
        writer_burst_limit=cfg.writer_burst_limit,
        writer_quota_per_day=cfg.writer_quota_per_day,
        web_acl_arn=api_acl.arn if api_acl is not None else None,
    ),
    opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(parent=ingest)]),
)
metric_stream = None
if firehose_key is not None:  # Firehose delivers to the API's stage URL
    metric_stream = MetricStream(
        "metric-stream",
        MetricStreamArgs(
            prefix=cfg.prefix,
            namespaces=cfg.metric_stream_namespaces,
            api_url=api.url,
            access_key=firehose_key,
            log_retention_days=cfg.log_retention_days,
        ),
    )
if site is not None:  # the site came first (the API's CORS origins name it); its config.json names the API
    DashboardConfig(
        "site-config",
        DashboardConfigArgs(
            site=site, api_url=api.url, region=region, user_pool_id=auth.pool.id, client_id=auth.client.id
        ),
    )

observability = ObservabilityTier(
    "observability",
    ObservabilityArgs(
        prefix=cfg.prefix,
        monitored=[
            ingest.monitored,
            ai.monitored,
            alerting.monitored,
            *([streaming.monitored] if streaming is not None else []),
        ],
        api_name=api.api.name,
        api_stage=api.stage.stage_name,
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

pulumi.export("apiUrl", api.url)
if site is not None:
    pulumi.export("dashboardUrl", site.url)
    pulumi.export("dashboardBucket", site.bucket.bucket)
# Writer name -> API key, secret: `pulumi stack output --show-secrets writerKeys` (docs/security.md).
pulumi.export("writerKeys", pulumi.Output.secret({writer: key.value for writer, key in api.api_keys.items()}))
pulumi.export("userPoolId", auth.pool.id)
pulumi.export("userPoolClientId", auth.client.id)
pulumi.export("metricsTable", ingest.metrics_table.name)
pulumi.export("insightsTable", ai.insights_table.name)
pulumi.export("stateTable", ai.state_table.name)
pulumi.export("ingestFunction", ingest.ingest_fn.name)
pulumi.export("queryFunction", ingest.query_fn.name)
pulumi.export("aiFunction", ai.ai_fn.name)
pulumi.export("insightsFunction", ai.insights_fn.name)
pulumi.export("incidentsTable", ai.incidents_table.name)
pulumi.export("incidentSweeperFunction", ai.sweeper_fn.name)
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
if metric_stream is not None:
    pulumi.export("metricStreamName", metric_stream.metric_stream.name)
    pulumi.export("firehoseStreamName", metric_stream.delivery_stream.name)
    pulumi.export("firehoseBackupBucket", metric_stream.bucket.bucket)
if streaming is not None:
    pulumi.export("kinesisStreamName", streaming.stream.name)
    pulumi.export("processFunction", streaming.process_fn.name)
    pulumi.export("ibDlqUrl", streaming.dlq.url)
    if streaming.simulator_fn is not None:
        pulumi.export("simulatorFunction", streaming.simulator_fn.name)
