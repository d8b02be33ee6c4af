"""IOps Dashboard: one stack per environment. Reads config, composes the tiers, exports outputs."""

import pulumi

from components import artifacts
from components.ai import AiArgs, AiTier
from components.code import CodeBucket, CodeBucketArgs
from components.config import StackConfig
from components.ingest import IngestArgs, IngestTier

cfg = StackConfig()
code = CodeBucket("code", CodeBucketArgs(bucket_prefix=f"{cfg.prefix}-code-"))
api_code = code.upload(artifacts.build(artifacts.API))
ai_code = code.upload(artifacts.build(artifacts.with_extras(artifacts.AI, cfg.extra_detector_packages)))

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
        allowed_origins=cfg.allowed_origins,
    ),
)

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
        allowed_origins=cfg.allowed_origins,
    ),
)

ingest.api.publish()

pulumi.export("apiUrl", ingest.api.url)
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
