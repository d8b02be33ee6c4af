"""The stack builds what `iops cost` prices: detailed metrics, the X-Ray sampling rule, tracing mode
and log level come from each stack's config, and the cost model reads the same keys."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cli import cost
from tests.infra.harness import Graph, run_program

FN = "aws:lambda/function:Function"
A = cost.Assumptions(state_bytes=1300)


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> tuple[str, Graph]:
    return request.param, run_program(request.param)


def test_graph_matches_the_shape_the_bill_is_computed_from(stack: tuple[str, Graph]) -> None:
    name, graph = stack
    shape = cost.StackShape.from_config(cost.stack_config(name), name)
    (settings,) = graph.of_type("aws:apigateway/methodSettings:MethodSettings")
    assert settings.inputs["settings"]["metricsEnabled"] is shape.api_detailed_metrics
    rule = graph.one("aws:xray/samplingRule:SamplingRule", "ingest-rest")
    assert rule.inputs["fixedRate"] == pytest.approx(shape.xray_sampling_rate)
    assert rule.inputs["reservoirSize"] == shape.xray_reservoir_per_s
    assert rule.inputs["serviceName"] == f"iops-{name}-api/v1" and len(rule.inputs["ruleName"]) <= 32
    assert rule.inputs["priority"] < 10000  # ahead of AWS's default rule
    functions = graph.of_type(FN)
    assert functions and all(fn.inputs["tracingConfig"] == {"mode": shape.lambda_tracing_mode} for fn in functions)
    assert all(fn.inputs["environment"]["variables"]["POWERTOOLS_LOG_LEVEL"] == shape.log_level for fn in functions)
    for fn in functions:
        logging = fn.inputs["loggingConfig"]
        assert logging["logFormat"] == "JSON" and logging["systemLogLevel"] == shape.lambda_system_log_level
        assert logging["applicationLogLevel"] == shape.log_level.replace("WARNING", "WARN")
        assert logging["logGroup"] == f"/aws/lambda/{fn.inputs['name']}"
    wafs = graph.of_type("aws:wafv2/webAcl:WebAcl")
    assert len(wafs) == ((1 + shape.dashboard_site) if shape.waf else 0)
    assert all(len(w.inputs["rules"]) == shape.waf_rules for w in wafs)


def test_dev_is_cost_aware_and_prod_keeps_per_method_metrics() -> None:
    dev = cost.StackShape.from_config(cost.stack_config("dev"), "dev")
    prod = cost.StackShape.from_config(cost.stack_config("prod"), "prod")
    assert not dev.api_detailed_metrics and dev.lambda_tracing_mode == "PassThrough"
    assert prod.api_detailed_metrics and prod.lambda_tracing_mode == "Active"
    assert not dev.platform_logs and prod.platform_logs  # START/END/REPORT: dropped in dev, kept in prod
    with_platform = cost.estimate(cost.Fleet(hosts=100), replace(dev, lambda_system_log_level="INFO"), A)
    without = cost.estimate(cost.Fleet(hosts=100), dev, A)
    invocations = without.quantities["lambda_invocations"]
    assert with_platform.quantities["logs_gb"] - without.quantities["logs_gb"] == pytest.approx(invocations * 400 / 1e9)


def test_config_overrides_reach_the_graph() -> None:
    graph = run_program(
        "dev",
        {"apiDetailedMetrics": "true", "xraySamplingRate": "0.2", "lambdaTracingMode": "Active", "logLevel": "warning"},
    )
    (settings,) = graph.of_type("aws:apigateway/methodSettings:MethodSettings")
    assert settings.inputs["settings"]["metricsEnabled"] is True
    assert graph.one("aws:xray/samplingRule:SamplingRule", "ingest-rest").inputs["fixedRate"] == pytest.approx(0.2)
    fn = graph.one(FN, "ingest-ingest")
    assert fn.inputs["tracingConfig"] == {"mode": "Active"}
    assert fn.inputs["environment"]["variables"]["POWERTOOLS_LOG_LEVEL"] == "WARNING"


def test_a_bad_tracing_mode_is_refused() -> None:
    with pytest.raises(Exception, match="lambdaTracingMode"):
        run_program("dev", {"lambdaTracingMode": "Sometimes"})
    with pytest.raises(Exception, match="lambdaSystemLogLevel"):
        run_program("dev", {"lambdaSystemLogLevel": "LOUD"})
