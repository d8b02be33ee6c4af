"""The cost model's stack-dependent figures come from the stack's config, and each new service is priced."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
import yaml

from cli import cost

A = replace(cost.DEFAULT_ASSUMPTIONS, state_bytes=1900)
QUIET = cost.Fleet(hosts=100, viewers=0, insights_per_host_day=0)
DEV = cost.StackShape.from_config(cost.stack_config("dev"), "dev")
PROD = cost.StackShape.from_config(cost.stack_config("prod"), "prod")


def test_every_configured_field_names_a_declared_key() -> None:
    declared = yaml.safe_load((cost.ROOT / "Pulumi.yaml").read_text())["config"]
    keys = [f.metadata["config"] for f in fields(cost.StackShape) if "config" in f.metadata]
    assert keys and all(k in declared for k in keys)


def test_no_assumption_shadows_a_config_key() -> None:
    """What a stack sets (sampling, tracing, log level, retention...) is read from it, never assumed."""
    declared = {k.lower() for k in yaml.safe_load((cost.ROOT / "Pulumi.yaml").read_text())["config"]}
    for f in fields(cost.Assumptions):
        assert f.name.replace("_", "") not in declared, f.name
    assert not {"xray_rate", "xray_reservoir_per_s"} & {f.name for f in fields(cost.Assumptions)}


def test_cost_aware_defaults_in_dev_and_the_fuller_set_in_prod() -> None:
    assert (DEV.api_detailed_metrics, DEV.lambda_tracing_mode, DEV.xray_sampling_rate, DEV.xray_reservoir_per_s) == (
        False,
        "PassThrough",
        0.01,
        0,
    )
    assert (
        PROD.api_detailed_metrics,
        PROD.lambda_tracing_mode,
        PROD.xray_sampling_rate,
        PROD.xray_reservoir_per_s,
    ) == (
        True,
        "Active",
        0.05,
        1,
    )
    assert PROD.waf and PROD.metric_stream_namespaces == ("AWS/EC2",) and PROD.dashboard_users
    assert not DEV.waf and not DEV.metric_stream_namespaces


def test_detailed_metrics_are_five_custom_metrics_per_method() -> None:
    on = cost.estimate(QUIET, replace(DEV, api_detailed_metrics=True), A).quantities["custom_metrics"]
    off = cost.estimate(QUIET, DEV, A).quantities["custom_metrics"]
    assert on - off == 5 * DEV.api_methods


def test_xray_follows_the_sampling_rule_and_tracing_mode() -> None:
    e = cost.estimate(QUIET, DEV, A)
    requests = e.quantities["ingest_requests"]
    assert e.quantities["xray_traces"] == pytest.approx(0.01 * requests)  # no reservoir; AI and sweeper untraced
    active = cost.estimate(QUIET, replace(DEV, lambda_tracing_mode="Active"), A)
    unprompted = active.quantities["ai_invocations"] + active.quantities["sweeper_runs"]
    assert active.quantities["xray_traces"] == pytest.approx(
        0.01 * requests + cost.MONTH_S + 0.05 * (unprompted - cost.MONTH_S)
    )


def test_warning_log_level_drops_the_info_lines() -> None:
    info = cost.estimate(QUIET, DEV, A)
    warning = cost.estimate(QUIET, replace(DEV, log_level="WARNING"), A)
    dropped = (
        info.quantities["ingest_requests"] * A.ingest_app_log_bytes
        + info.quantities["ai_invocations"] * A.ai_app_log_bytes
    )
    assert info.quantities["logs_gb"] - warning.quantities["logs_gb"] == pytest.approx(dropped / 1e9)


def test_a_collector_batch_reaches_the_stream_together() -> None:
    one = cost.estimate(QUIET, DEV, A).quantities
    batched = cost.estimate(replace(QUIET, samples_per_request=100), DEV, A).quantities
    assert one["ai_invocations"] == pytest.approx(cost.MONTH_S)  # 1.7 samples/s: one invocation per 1 s window
    assert batched["ai_invocations"] == pytest.approx(one["host_samples"] / 100)  # one per POST of 100 samples
    assert batched["state_writes"] == one["state_writes"]  # still one point per series per batch


def test_the_sweeper_runs_every_minute() -> None:
    e = cost.estimate(QUIET, DEV, A)
    assert DEV.sweeper_interval_s == 60
    assert e.quantities["sweeper_runs"] == pytest.approx(cost.MONTH_S / 60)


def test_incidents_and_counters_are_priced() -> None:
    insights = cost.estimate(replace(QUIET, insights_per_host_day=1), DEV, A)
    assert insights.parts["DynamoDB incident writes"] == pytest.approx(
        insights.quantities["insights"] * ((1 + 2) * 2 + 1) * 0.625 / 1e6
    )
    counters = cost.estimate(replace(QUIET, counter_metrics_per_host=2), DEV, A)
    assert counters.parts["DynamoDB counter writes"] == pytest.approx(
        counters.quantities["host_samples"] * 2 * 0.625 / 1e6
    )


def test_waf_cognito_and_metric_stream_only_where_configured() -> None:
    services = {x.service for x in cost.estimate(QUIET, DEV, A).lines}
    assert "WAF" not in services and "Metric stream" not in services
    prod = cost.estimate(replace(QUIET, metric_stream_metrics=1000), replace(PROD, sagemaker_endpoint=False), A)
    requests = prod.quantities["api_requests"]
    assert prod.line("WAF").usd == pytest.approx(2 * (5 + PROD.waf_rules) + requests / 1e6 * 0.60)
    updates = 1000 * cost.MONTH_S / 60
    assert prod.line("Metric stream").usd == pytest.approx(updates / 1000 * 0.003 + updates * 5120 / 1e9 * 0.029)
    assert prod.line("Cognito").usd == 0  # one invited reader, inside the free MAU
