"""The Bedrock enricher against botocore's Stubber (and a real socket for the timeout)."""

from __future__ import annotations

import socket
import threading
import time

import boto3
import pytest
from botocore.stub import Stubber
from iops_detector_sdk.contract import Finding, Point, SeriesKey

from detectors import bedrock
from iops.logic.ai import Processor, enrich

MODEL = bedrock.DEFAULT_MODEL_ID
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def finding(risk: int = 88, severity: str = "HIGH") -> Finding:
    history = [Point(T0 + 60 * i, 30.0 + (i % 5) * 0.7) for i in range(59)]
    spike = Point(T0 + 60 * 59, 97.0)
    return Finding(
        series=SeriesKey("web-03", "cpuUsage"),
        point=spike,
        score=risk / 100,
        scores={"statistical": risk / 100},
        expected=31.4,
        risk_score=risk,
        severity=severity,
        confidence=0.8,
        context=[*history, spike],
        model_used="statistical",
    )


GOOD = {
    "explanation": "cpuUsage on web-03 jumped to 97 % from a steady 30-33 %, a single-point spike after an hour of flat load.",
    "recommendations": [
        "Run top -o %CPU on web-03 and note the processes above 20 %",
        "Compare with the deploy log of web-03 for the last 30 minutes",
    ],
    "risk_score": 92,
    "prediction_type": "cpu_saturation",
}


def tool_answer(answer: dict, tool_id: str = "t1") -> dict:
    return {
        "output": {
            "message": {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": tool_id, "name": bedrock.TOOL_NAME, "input": answer}}],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 1200, "outputTokens": 150, "totalTokens": 1350},
        "metrics": {"latencyMs": 900},
    }


@pytest.fixture
def stubbed():
    """A real bedrock-runtime client with a Stubber; the factory records the read timeouts asked for."""
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    timeouts: list[float] = []

    def factory(read_timeout_s: float):
        timeouts.append(read_timeout_s)
        return client

    with Stubber(client) as stub:
        yield stub, bedrock.BedrockEnricher(MODEL, client_factory=factory), timeouts
        stub.assert_no_pending_responses()


def soon(seconds: float = 30.0) -> float:
    return time.monotonic() + seconds


def test_success_uses_the_structured_answer(stubbed) -> None:
    stub, enricher, timeouts = stubbed
    f = finding()
    stub.add_response(
        "converse", tool_answer(GOOD), expected_params=bedrock.converse_request(MODEL, enricher.prompt, f)
    )
    got = enricher.enrich(f, soon())
    assert got is not None
    assert got.explanation == GOOD["explanation"]
    assert got.recommendations == GOOD["recommendations"]
    assert (got.risk_score, got.prediction_type) == (92, "cpu_saturation")
    assert got.model_used == f"statistical+{MODEL}"
    assert timeouts == [bedrock.MAX_READ_TIMEOUT_S]


def test_the_request_forces_the_tool_and_carries_the_finding_and_its_history() -> None:
    prompt = bedrock.Prompt.load()
    req = bedrock.converse_request(MODEL, prompt, finding())
    assert req["toolConfig"]["toolChoice"] == {"tool": {"name": "record_insight"}}
    schema = req["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]
    assert schema["required"] == ["explanation", "recommendations", "risk_score", "prediction_type"]
    text = req["messages"][0]["content"][0]["text"]
    for needle in (
        "web-03",
        "cpuUsage",
        "Observed value: 97",
        "Expected value (median of the recent history): 31.4",
        "2026-01-01 00:00:00 30",
        "2026-01-01 00:59:00 97",
        "60 points over 59 minutes",
    ):
        assert needle in text, needle
    assert "$" not in text and "$" not in req["system"][0]["text"]
    assert "record_insight" in req["system"][0]["text"]


def test_throttling_returns_none_at_once_and_cools_down(stubbed) -> None:
    stub, enricher, _ = stubbed
    stub.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=429)
    started = time.monotonic()
    assert enricher.enrich(finding(), soon()) is None
    assert time.monotonic() - started < 1.0
    # within the cool-down no call is made (the Stubber would fail on an unexpected call)
    assert enricher.enrich(finding(), soon()) is None


def test_access_denied_falls_back(stubbed) -> None:
    stub, enricher, _ = stubbed
    stub.add_client_error("converse", service_error_code="AccessDeniedException", http_status_code=403)
    assert enricher.enrich(finding(), soon()) is None


def test_malformed_answer_is_retried_once_with_the_reason(stubbed) -> None:
    stub, enricher, _ = stubbed
    f = finding()
    bad = {k: v for k, v in GOOD.items() if k != "recommendations"}
    first = bedrock.converse_request(MODEL, enricher.prompt, f)
    stub.add_response("converse", tool_answer(bad, "t1"), expected_params=first)
    with pytest.raises(bedrock.Malformed) as problem:
        bedrock.parse_answer(tool_answer(bad, "t1"), f)
    second = bedrock.correction(first, tool_answer(bad, "t1"), str(problem.value))
    assert "recommendations" in second["messages"][-1]["content"][0]["toolResult"]["content"][0]["text"]
    assert second["messages"][-1]["content"][0]["toolResult"]["status"] == "error"
    stub.add_response("converse", tool_answer(GOOD, "t2"), expected_params=second)
    got = enricher.enrich(f, soon())
    assert got is not None and got.recommendations == GOOD["recommendations"]


def test_malformed_twice_returns_none_and_the_runtime_uses_the_template(stubbed) -> None:
    stub, enricher, _ = stubbed
    stub.add_response("converse", tool_answer({**GOOD, "risk_score": 140}))
    stub.add_response("converse", tool_answer({**GOOD, "prediction_type": "aliens"}))
    processor = Processor(ddb=None, events=None, settings=None, detectors={}, enrichers={"bedrock": enricher})
    [got] = enrich(processor, [finding()], soon(60))
    assert got.model_used == "statistical"  # the template, not the model
    for needle in ("cpuUsage", "web-03", "97", "31.4"):
        assert needle in got.explanation
    assert got.recommendations


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"explanation": "CPU is high on some host, which is unusual for it."}, "does not name the host"),
        ({"recommendations": []}, "recommendations"),
        ({"recommendations": ["ok fine", 3]}, "each recommendation"),
        ({"risk_score": True}, "risk_score"),
        ({"risk_score": 50.5}, "risk_score"),
        ({"extra": "x"}, "fields must be exactly"),
    ],
)
def test_off_schema_answers_are_rejected(change: dict, reason: str) -> None:
    with pytest.raises(bedrock.Malformed, match=reason):
        bedrock.parse_answer(tool_answer({**GOOD, **change}), finding())


def test_a_text_answer_without_the_tool_is_rejected() -> None:
    response = tool_answer(GOOD)
    response["output"]["message"]["content"] = [{"text": "CPU is high."}]
    with pytest.raises(bedrock.Malformed, match="expected one record_insight call"):
        bedrock.parse_answer(response, finding())


def test_the_model_refines_the_risk_but_cannot_overrule_the_detectors(stubbed) -> None:
    stub, enricher, _ = stubbed
    stub.add_response("converse", tool_answer({**GOOD, "risk_score": 10}))
    got = enricher.enrich(finding(risk=88), soon())
    assert got is not None and got.risk_score == 88 - bedrock.MAX_RISK_REVISION


def test_no_call_starts_too_close_to_the_deadline(stubbed) -> None:
    _, enricher, timeouts = stubbed
    assert enricher.enrich(finding(), time.monotonic() + bedrock.MIN_CALL_S - 0.5) is None
    assert timeouts == []


def test_the_read_timeout_shrinks_with_the_deadline(stubbed) -> None:
    stub, enricher, timeouts = stubbed
    stub.add_response("converse", tool_answer(GOOD))
    assert enricher.enrich(finding(), time.monotonic() + 4.5) is not None
    assert timeouts == [3.0]


@pytest.fixture
def silent_endpoint(monkeypatch):
    """A TCP endpoint that accepts requests and never answers: a hung Bedrock."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", f"http://127.0.0.1:{server.getsockname()[1]}")
    yield conns
    stop.set()
    thread.join()
    for c in conns:
        c.close()
    server.close()


def test_a_hung_endpoint_times_out_before_the_deadline(silent_endpoint) -> None:
    enricher = bedrock.BedrockEnricher(MODEL)  # the real client factory, real botocore timeouts
    started = time.monotonic()
    deadline = started + 3.5
    assert enricher.enrich(finding(), deadline) is None
    elapsed = time.monotonic() - started
    assert silent_endpoint, "the request never reached the endpoint"
    assert 1.5 <= elapsed < deadline - started, elapsed


def test_disabled_registers_nothing_and_enabled_registers_the_configured_model(monkeypatch) -> None:
    found: list = []
    monkeypatch.delenv(bedrock.ENABLED_ENV, raising=False)
    bedrock.register_enrichers(register=found.append)
    assert found == []
    monkeypatch.setenv(bedrock.ENABLED_ENV, "true")
    monkeypatch.setenv(bedrock.MODEL_ENV, "us.anthropic.claude-3-5-haiku-20241022-v1:0")
    bedrock.register_enrichers(register=found.append)
    assert [(e.name, e.model_id) for e in found] == [("bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0")]


def test_iam_resources_for_a_model_and_an_inference_profile() -> None:
    assert bedrock.resource_arns(MODEL, "us-east-1", "123456789012") == [
        f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL}"
    ]
    assert bedrock.resource_arns(f"us.{MODEL}", "us-east-1", "123456789012") == [
        f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{MODEL}",
        f"arn:aws:bedrock:*::foundation-model/{MODEL}",
    ]


def test_prompt_file_has_both_sections(tmp_path) -> None:
    bad = tmp_path / "p.md"
    bad.write_text("# System\nhello\n")
    with pytest.raises(ValueError, match="User"):
        bedrock.Prompt.load(bad)
    assert "<!--" not in bedrock.Prompt.load().system
