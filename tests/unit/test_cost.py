"""`iops cost`: the price file, the estimator's arithmetic against hand-computed figures, the CLI."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import date

import pytest

from cli import cost
from cli.main import main
from detectors import bedrock

A = replace(cost.DEFAULT_ASSUMPTIONS, state_bytes=7000)  # 7 WRU per state write, 1 RRU per read
QUIET = cost.Fleet(hosts=100, viewers=0, insights_per_host_day=0)


def test_prices_have_a_date_a_region_and_positive_numbers() -> None:
    p = cost.prices()
    assert p["region"] == "us-east-1" and p["currency"] == "USD"
    assert date.fromisoformat(p["as_of"]) <= date.today()

    def numbers(value):
        if isinstance(value, dict):
            for v in value.values():
                yield from numbers(v)
        elif isinstance(value, list):
            for v in value:
                yield from numbers(v)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield value

    for service in ("apigateway", "lambda", "dynamodb", "cloudwatch", "xray", "sns", "kinesis", "sagemaker", "bedrock"):
        assert p[service]["source"].startswith("https://aws.amazon.com/")
        assert all(n >= 0 for n in numbers(p[service]))


def test_api_gateway_tiers() -> None:
    tiers = cost.prices()["apigateway"]["rest_requests_per_million_tiers"]
    assert cost._tiered(1e6, tiers, 1e6) == pytest.approx(3.50)
    assert cost._tiered(400e6, tiers, 1e6) == pytest.approx(333 * 3.50 + 67 * 2.80)


def test_hundred_hosts_api_and_state_writes_by_hand() -> None:
    e = cost.estimate(QUIET, cost.StackShape(), A)
    samples = 100 * 730 * 3600 / 60  # 4,380,000 POSTs a month
    assert e.quantities["ingest_requests"] == pytest.approx(samples)
    assert e.line("API Gateway").usd == pytest.approx(samples / 1e6 * 3.50)
    # 4 series per host, each written at a checkpoint (every 15 points) at 7 WRU, $0.625 per million WRU
    assert cost.StackShape().checkpoint_points == 15
    assert e.parts["DynamoDB detector-state writes"] == pytest.approx(samples * 4 / 15 * 7 * 0.625 / 1e6)
    assert e.parts["DynamoDB metric writes"] == pytest.approx(samples * 1 * 0.625 / 1e6)
    every_point = cost.estimate(QUIET, replace(cost.StackShape(), checkpoint_points=1), A)
    assert every_point.parts["DynamoDB detector-state writes"] == pytest.approx(samples * 4 * 7 * 0.625 / 1e6)
    # between checkpoints a batch replays 7 points on average (0 to 14), read back by one Query per host
    assert e.quantities["replayed_points"] == pytest.approx(samples * 4 * 7)
    assert e.quantities["replay_queries"] == pytest.approx(samples) and every_point.quantities["replay_queries"] == 0


def test_dashboard_viewer_polls_every_five_seconds() -> None:
    one = cost.estimate(replace(QUIET, viewers=1), cost.StackShape(), A)
    assert one.quantities["dashboard_polls"] == pytest.approx(730 * 3600 / 5)
    two = cost.estimate(replace(QUIET, viewers=2), cost.StackShape(), A)
    base = cost.estimate(QUIET, cost.StackShape(), A)
    assert two.line("API Gateway").usd - base.line("API Gateway").usd == pytest.approx(2 * 730 * 3600 / 5 / 1e6 * 3.50)


def test_free_tier_is_explicit_and_only_lowers_the_bill() -> None:
    small = cost.Fleet(hosts=5, viewers=0)
    paid = cost.estimate(small, cost.StackShape(), A)
    free = cost.estimate(replace(small, free_tier=True), cost.StackShape(), A)
    assert free.total < paid.total
    assert free.line("Lambda").usd == 0 < paid.line("Lambda").usd  # 1M requests + 400k GB-s always free
    assert free.line("API Gateway").usd == 0  # 5 hosts: 219,000 requests < 1M (first-year allowance)


def test_the_bill_grows_with_the_fleet_and_its_driver_is_the_api_once_state_is_checkpointed() -> None:
    totals = [cost.estimate(cost.Fleet(hosts=h), cost.StackShape(), A).total for h in (100, 1000, 10000)]
    assert totals == sorted(totals) and totals[2] > 50 * totals[0]
    big = cost.estimate(cost.Fleet(hosts=10000), cost.StackShape(), A)
    assert big.driver()[0] == "API Gateway requests (POST /metrics)"
    every_point = cost.estimate(cost.Fleet(hosts=10000), replace(cost.StackShape(), checkpoint_points=1), A)
    assert every_point.driver()[0] == "DynamoDB detector-state writes"


def test_batching_samples_per_request_cuts_api_cost_proportionally() -> None:
    one = cost.estimate(QUIET, cost.StackShape(), A).line("API Gateway").usd
    hundred = cost.estimate(replace(QUIET, samples_per_request=100), cost.StackShape(), A).line("API Gateway").usd
    assert hundred == pytest.approx(one / 100)


def test_a_batching_window_longer_than_the_interval_shares_state_writes() -> None:
    per_batch = replace(cost.StackShape(), checkpoint_points=1)
    short = cost.estimate(QUIET, per_batch, A).quantities["state_writes"]
    long = cost.estimate(QUIET, replace(per_batch, batching_window_s=300, batch_size=10_000), A)
    assert long.quantities["state_writes"] == pytest.approx(short / 5)
    capped = cost.estimate(QUIET, replace(per_batch, batching_window_s=300, batch_size=100), A)
    assert capped.quantities["state_writes"] == pytest.approx(short)  # 100 records fill in 60 s: no sharing
    # with checkpoints every 15 points, 5 points a batch write every third batch: no more, no fewer writes
    checkpointed = cost.estimate(QUIET, replace(cost.StackShape(), batching_window_s=300, batch_size=10_000), A)
    assert checkpointed.quantities["state_writes"] == pytest.approx(short / 15)
    # each batch of 5 replays (15 - 5) / 2 points on average
    assert checkpointed.quantities["replayed_points"] == pytest.approx(short / 5 * (15 - 5) / 2)


def test_sagemaker_endpoint_hours_and_saturation() -> None:
    off = cost.estimate(cost.Fleet(hosts=10), cost.StackShape(), A)
    assert all(x.service != "SageMaker" for x in off.lines)
    on = cost.estimate(cost.Fleet(hosts=10, sagemaker=True), cost.StackShape(), A)
    sm = on.line("SageMaker")
    assert sm.usd == pytest.approx(730 * 0.056 + 0.5 * 0.23)  # 40 invocations/min: one instance
    big = cost.estimate(cost.Fleet(hosts=1000, sagemaker=True), cost.StackShape(), A).line("SageMaker")
    assert "SATURATED" in big.notes and big.usd == pytest.approx(3 * 730 * 0.056 + 0.5 * 0.23)


def test_bedrock_calls_priced_per_token_for_the_model_the_stack_calls() -> None:
    assert cost.prices()["bedrock"]["model"] == bedrock.DEFAULT_MODEL_ID
    e = cost.estimate(replace(QUIET, bedrock_calls=10_000), cost.StackShape(), A)
    assert e.line("Bedrock").usd == pytest.approx(10_000 * (800 * 0.80 + 300 * 4.00) / 1e6)


def test_custom_metrics_count_follows_the_emf_spec() -> None:
    shape = replace(cost.StackShape(), api_detailed_metrics=False)
    # ingest trio, 4 severities, latency+failures+timeouts of 1 detector, late points, detectors missing
    assert shape.custom_metrics == 3 + 4 + 3 + 1 + 1
    assert replace(shape, detectors=("statistical", "lstm")).custom_metrics == 3 + 4 + 6 + 1 + 1


def test_stack_config_overlays_the_stack_file(tmp_path) -> None:
    (tmp_path / "Pulumi.yaml").write_text(
        "name: iops-dashboard\nconfig:\n  aiMemoryMb: {type: integer, default: 1024}\n  streamBatchSize: {type: integer, default: 100}\n"
    )
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  iops-dashboard:aiMemoryMb: 2048\n  aws:region: eu-west-1\n")
    config = cost.stack_config("prod", tmp_path)
    assert config == {"aiMemoryMb": 2048, "streamBatchSize": 100}
    assert cost.StackShape.from_config(config).ai_memory_mb == 2048


def test_measured_state_is_the_encoded_item_the_ai_tier_stores() -> None:
    stored = cost.measure_state_bytes(("statistical",), 60, 2)
    assert 1024 < stored <= 2048  # a week's profiles encoded, plus key and ttl: 2 write units


def test_estimate_refuses_to_guess_the_state_size() -> None:
    with pytest.raises(ValueError, match="state_bytes"):
        cost.estimate(QUIET)


def test_cli_json_matches_the_estimator(capsys) -> None:
    assert main(["cost", "--hosts", "100", "1000", "--state-bytes", "7000", "--viewers", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["prices"]["as_of"] == cost.prices()["as_of"]
    totals = [e["total_usd"] for e in out["estimates"]]
    expected = [
        cost.estimate(
            replace(cost.Fleet(hosts=h), viewers=0), cost.StackShape.from_config(cost.stack_config("dev")), A
        ).total
        for h in (100, 1000)
    ]
    assert totals == [round(t, 2) for t in expected]


def test_cli_table_has_a_column_per_fleet_a_total_and_what_dominates(capsys) -> None:
    assert main(["cost", "--hosts", "100", "1000", "10000"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("Service"))
    assert header.split()[1:] == ["100", "hosts", "1,000", "hosts", "10,000", "hosts"]
    total = next(line for line in out.splitlines() if line.startswith("TOTAL"))
    assert len(total.split()) == 4 and all(c.startswith("$") for c in total.split()[1:])
    assert "largest driver" in out and "What would cut it" in out
    for line in out.splitlines():
        if line.startswith(("API Gateway", "DynamoDB", "CloudWatch")):
            assert all(math.isfinite(float(c.strip("$").replace(",", ""))) for c in line.split()[-3:])


STREAMING = replace(cost.StackShape(), streaming=True)


def test_without_the_streaming_tier_infiniband_streams_cost_nothing() -> None:
    base = cost.estimate(QUIET, cost.StackShape(), A)
    with_streams = cost.estimate(replace(QUIET, ib_streams=50), cost.StackShape(), A)
    assert with_streams.total == base.total and "Kinesis" not in {x.service for x in base.lines}


def test_an_idle_on_demand_stream_still_bills_its_stream_hours() -> None:
    e = cost.estimate(QUIET, STREAMING, A)
    assert e.line("Kinesis").usd == pytest.approx(730 * 0.04)
    assert e.quantities["ib_lambda_invocations"] == 0 and e.parts["DynamoDB InfiniBand window-state writes"] == 0


def test_one_provisioned_shard_polled_every_second_writes_each_streams_state_per_invocation() -> None:
    stack = replace(STREAMING, kinesis_shards=1, simulator=True, simulator_streams=8, simulator_events_per_minute=60)
    e = cost.estimate(QUIET, stack, A)
    events = 8 * 60 * cost.MONTH_S / 60
    assert e.quantities["ib_events"] == pytest.approx(events)
    assert e.line("Kinesis").usd == pytest.approx(730 * 0.015 + events / 1e6 * 0.014)
    process = cost.MONTH_S  # 8 events/s on one shard: one invocation per second, not one per 100 events
    assert e.quantities["ib_lambda_invocations"] == pytest.approx(process + cost.MONTH_S / 60)  # + the simulator
    # every invocation saw all 8 streams; a transactional write of a < 1 KB state item is 2 WRU
    assert e.quantities["ib_state_wru"] == pytest.approx(process * 8 * 2)


def test_infiniband_minutes_are_scored_by_the_ai_tier_like_host_samples() -> None:
    off = cost.estimate(QUIET, STREAMING, A).quantities
    on = cost.estimate(replace(QUIET, ib_streams=10), STREAMING, A).quantities
    assert on["series_points"] - off["series_points"] == pytest.approx(10 * cost.MONTH_S / 60 * cost.IB_METRICS)
    assert on["state_writes"] > off["state_writes"] and on["ingest_requests"] == off["ingest_requests"]
    assert cost.IB_METRICS == 7


def test_simulator_default_follows_the_program_dev_only() -> None:
    unset = {"streamingEnabled": True, "simulatorEnabled": None, "simulatorSchedule": "rate(5 minutes)"}
    assert cost.StackShape.from_config(unset, "dev").simulator
    assert not cost.StackShape.from_config(unset, "staging").simulator
    assert cost.StackShape.from_config({**unset, "simulatorEnabled": True}, "staging").simulator
    assert cost.StackShape.from_config(unset, "dev").simulator_interval_s == 300
