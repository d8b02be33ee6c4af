"""Built-in bedrock plugin: an enricher that explains findings with Claude on Amazon Bedrock.

One Converse call per finding. The model must answer by calling the ``record_insight`` tool,
whose JSON schema (`TOOL_SCHEMA`) asks for ``explanation``, ``recommendations``, ``risk_score``
and ``prediction_type``; `parse_answer` checks the answer against that schema itself, because
Bedrock does not enforce it. The prompt text is in ``bedrock_prompt.md`` beside this module.

Failure policy, so an alert is never late or lost because of the model:

* an answer that is off-schema (no tool call, a missing or extra field, a risk outside 0-100,
  an unknown prediction type, an explanation that does not name the host) is rejected and the
  model is asked once more, with the reason; a second bad answer returns None;
* throttling, access errors, timeouts and any other error return None at once (botocore
  retries are off) and Bedrock is skipped for ``COOLDOWN_S``, so a batch does not pay the same
  failure per finding;
* the botocore read timeout is bounded by the deadline the runtime passes, and no call starts
  with less than ``MIN_CALL_S`` left.

None makes the runtime use the deterministic template (`iops.logic.explain`). The model may move
the detectors' risk score by at most ``MAX_RISK_REVISION`` points: the detectors' measurement
decides roughly how urgent a finding is, the model refines it.

Enabled by ``BEDROCK_ENABLED=true`` (`iops.settings.PluginSettings`; the stack sets it from
``bedrockEnabled``); otherwise the plugin registers nothing. ``BEDROCK_MODEL_ID`` picks the model.
Each ``enrich`` call is an X-Ray subsegment (``## enricher bedrock``) around the Converse calls. Which findings are explained is
the runtime's ``ENRICH_MIN_SEVERITY`` and ``ENRICH_MAX_CALLS`` (the enricher itself accepts any
severity, so there is one knob, not two).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from string import Template
from typing import Any

from iops_detector_sdk.contract import Enrichment, Finding
from iops_detector_sdk.hookspecs import hookimpl
from iops_detector_sdk.severity import LOWEST

from iops.logs import get_logger
from iops.settings import DEFAULT_BEDROCK_MODEL_ID, PluginSettings
from iops.tracing import subsegment

log = get_logger(__name__)

ENABLED_ENV = PluginSettings.env_name("bedrock_enabled")
MODEL_ENV = PluginSettings.env_name("bedrock_model_id")
DEFAULT_MODEL_ID = DEFAULT_BEDROCK_MODEL_ID
PROMPT_FILE = Path(__file__).with_name("bedrock_prompt.md")
TOOL_NAME = "record_insight"
PREDICTION_TYPES = (
    "performance_degradation",
    "cpu_saturation",
    "memory_exhaustion",
    "disk_exhaustion",
    "capacity_exhaustion",
    "network_congestion",
    "latency_slo_breach",
    "hardware_fault",
    "workload_change",
)
MAX_RECOMMENDATIONS = 5
MAX_RISK_REVISION = 15
CONNECT_TIMEOUT_S = 1.0
MAX_READ_TIMEOUT_S = 10.0
MIN_CALL_S = 2.0
"""Do not start a call with less time than this before the deadline."""
COOLDOWN_S = 30.0
MAX_TOKENS = 800
TEMPERATURE = 0.2
HISTORY_POINTS = 60

TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "explanation": {
            "type": "string",
            "minLength": 20,
            "maxLength": 1200,
            "description": "Two to four sentences naming the host, metric, observed and expected values.",
        },
        "recommendations": {
            "type": "array",
            "items": {"type": "string", "minLength": 5, "maxLength": 300},
            "minItems": 1,
            "maxItems": MAX_RECOMMENDATIONS,
            "description": "Concrete next steps for this metric on this host, most useful first.",
        },
        "risk_score": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100,
            "description": "How urgently a person should act, 0 to 100.",
        },
        "prediction_type": {"type": "string", "enum": list(PREDICTION_TYPES)},
    },
    "required": ["explanation", "recommendations", "risk_score", "prediction_type"],
    "additionalProperties": False,
}
TOOL_DESCRIPTION = "Record the explanation and next steps for the flagged data point."


class Malformed(ValueError):
    """The model answered, but not in the shape `TOOL_SCHEMA` asks for."""


@dataclass(frozen=True, slots=True)
class Prompt:
    system: str
    user: Template

    @classmethod
    def load(cls, path: Path = PROMPT_FILE) -> Prompt:
        """Read the ``# System`` and ``# User`` sections (HTML comments are for reviewers only)."""
        text = re.sub(r"<!--.*?-->", "", path.read_text(encoding="utf-8"), flags=re.S)
        sections = dict(re.findall(r"^# (System|User)[ \t]*\n(.*?)(?=^# |\Z)", text, flags=re.S | re.M))
        if set(sections) != {"System", "User"}:
            raise ValueError(f"{path} needs a '# System' and a '# User' section, found {sorted(sections)}")
        return cls(sections["System"].strip(), Template(sections["User"].strip()))


def _num(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def user_message(prompt: Prompt, finding: Finding) -> str:
    """The finding and its series' recent history, in the words of the prompt file."""
    history = (finding.context or [finding.point])[-HISTORY_POINTS:]
    values = [p.value for p in history]
    span_min = (history[-1].timestamp - history[0].timestamp) / 60
    return prompt.user.substitute(
        host=finding.series.entity,
        metric=finding.series.metric,
        when=_when(finding.point.timestamp),
        observed=_num(finding.point.value),
        expected=_num(finding.expected),
        scores=", ".join(f"{k} {v:.2f}" for k, v in sorted(finding.scores.items())) or "none",
        score=f"{finding.score:.2f}",
        risk_score=finding.risk_score,
        severity=finding.severity,
        history="\n".join(f"{_when(p.timestamp)[:-4]} {_num(p.value)}" for p in history),
        summary=(
            f"{len(values)} points over {span_min:.0f} minutes, min {_num(min(values))}, "
            f"median {_num(median(values))}, max {_num(max(values))}"
        ),
    )


def converse_request(model_id: str, prompt: Prompt, finding: Finding) -> dict[str, Any]:
    """Arguments of ``bedrock-runtime.converse`` for one finding (tool use forced)."""
    return {
        "modelId": model_id,
        "system": [{"text": prompt.system}],
        "messages": [{"role": "user", "content": [{"text": user_message(prompt, finding)}]}],
        "toolConfig": {
            "tools": [
                {"toolSpec": {"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "inputSchema": {"json": TOOL_SCHEMA}}}
            ],
            "toolChoice": {"tool": {"name": TOOL_NAME}},
        },
        "inferenceConfig": {"maxTokens": MAX_TOKENS, "temperature": TEMPERATURE},
    }


def _tool_use(response: dict[str, Any]) -> dict[str, Any]:
    blocks = response.get("output", {}).get("message", {}).get("content", [])
    calls = [b["toolUse"] for b in blocks if "toolUse" in b and b["toolUse"].get("name") == TOOL_NAME]
    if len(calls) != 1:
        raise Malformed(f"expected one {TOOL_NAME} call, got {len(calls)} (stopReason {response.get('stopReason')})")
    return calls[0]


def _text(raw: Any, field: str, lo: int, hi: int) -> str:
    if not isinstance(raw, str) or not lo <= len(raw.strip()) <= hi:
        raise Malformed(f"{field} must be a string of {lo}-{hi} characters")
    return raw.strip()


def parse_answer(response: dict[str, Any], finding: Finding) -> dict[str, Any]:
    """The tool call's input, checked against `TOOL_SCHEMA` (and naming the host); else Malformed."""
    answer = _tool_use(response).get("input")
    if not isinstance(answer, dict):
        raise Malformed(f"{TOOL_NAME} input is not an object")
    props = TOOL_SCHEMA["properties"]
    if set(answer) != set(TOOL_SCHEMA["required"]):
        raise Malformed(f"fields must be exactly {sorted(props)}, got {sorted(answer)}")
    explanation = _text(
        answer["explanation"], "explanation", props["explanation"]["minLength"], props["explanation"]["maxLength"]
    )
    if finding.series.entity not in explanation:
        raise Malformed(f"explanation does not name the host {finding.series.entity!r}")
    recs = answer["recommendations"]
    item = props["recommendations"]["items"]
    if not isinstance(recs, list) or not 1 <= len(recs) <= MAX_RECOMMENDATIONS:
        raise Malformed(f"recommendations must be a list of 1-{MAX_RECOMMENDATIONS} strings")
    recommendations = [_text(r, "each recommendation", item["minLength"], item["maxLength"]) for r in recs]
    risk = answer["risk_score"]
    if isinstance(risk, bool) or not isinstance(risk, int | float) or risk != int(risk) or not 0 <= risk <= 100:
        raise Malformed(f"risk_score must be an integer 0-100, got {risk!r}")
    if answer["prediction_type"] not in PREDICTION_TYPES:
        raise Malformed(f"prediction_type {answer['prediction_type']!r} is not one of {', '.join(PREDICTION_TYPES)}")
    return {
        "explanation": explanation,
        "recommendations": recommendations,
        "risk_score": int(risk),
        "prediction_type": answer["prediction_type"],
    }


def correction(request: dict[str, Any], response: dict[str, Any], problem: str) -> dict[str, Any]:
    """The request again, with the rejected answer and what was wrong with it."""
    answer = response.get("output", {}).get("message") or {"role": "assistant", "content": [{"text": "(no answer)"}]}
    uses = [b["toolUse"] for b in answer.get("content", []) if "toolUse" in b]
    note = f"Your answer was rejected: {problem}. Call {TOOL_NAME} again with a corrected answer."
    if uses:
        reply = [
            {"toolResult": {"toolUseId": u["toolUseId"], "content": [{"text": note}], "status": "error"}} for u in uses
        ]
    else:
        reply = [{"text": note}]
    return {**request, "messages": [*request["messages"], answer, {"role": "user", "content": reply}]}


def default_client_factory(read_timeout_s: float) -> Any:
    """A bedrock-runtime client that fails fast: no botocore retries, bounded timeouts."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=read_timeout_s,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )
    return boto3.client("bedrock-runtime", config=config)


class BedrockEnricher:
    """Explains findings with a Bedrock model; returns None (template fallback) on any failure."""

    name = "bedrock"
    min_severity = LOWEST

    def __init__(
        self,
        model_id: str = DEFAULT_MODEL_ID,
        client_factory: Callable[[float], Any] = default_client_factory,
        prompt: Prompt | None = None,
    ) -> None:
        self.model_id = model_id
        self.prompt = prompt or Prompt.load()
        self._factory = client_factory
        self._clients: dict[int, Any] = {}
        self._down_until = 0.0

    def _client(self, read_timeout_s: int) -> Any:
        """One client per whole-second read timeout (clients are costly; timeouts are per client)."""
        if read_timeout_s not in self._clients:
            self._clients[read_timeout_s] = self._factory(float(read_timeout_s))
        return self._clients[read_timeout_s]

    def _read_timeout(self, deadline: float) -> int | None:
        left = deadline - time.monotonic()
        if left < MIN_CALL_S:
            return None
        return int(min(MAX_READ_TIMEOUT_S, math.floor(left - CONNECT_TIMEOUT_S)))

    def enrich(self, finding: Finding, deadline: float) -> Enrichment | None:
        if time.monotonic() < self._down_until:
            return None
        with subsegment("enricher bedrock", enricher=self.name, model=self.model_id) as segment:
            enrichment = self._converse(finding, deadline)
            segment.put_annotation("enriched", enrichment is not None)
            return enrichment

    def _converse(self, finding: Finding, deadline: float) -> Enrichment | None:
        request = converse_request(self.model_id, self.prompt, finding)
        for attempt in (1, 2):
            timeout = self._read_timeout(deadline)
            if timeout is None:
                return None
            try:
                response = self._client(timeout).converse(**request)
            except Exception as exc:  # noqa: BLE001 - throttling, access, timeouts: all mean "use the template"
                log.warning(
                    "bedrock unavailable; using the template for a while", model=self.model_id, error=str(exc)[:300]
                )
                self._down_until = time.monotonic() + COOLDOWN_S
                return None
            usage = response.get("usage", {})
            log.info(
                "bedrock call",
                attempt=attempt,
                input_tokens=usage.get("inputTokens"),
                output_tokens=usage.get("outputTokens"),
            )
            try:
                answer = parse_answer(response, finding)
            except Malformed as exc:
                log.warning("bedrock answer rejected", attempt=attempt, error=exc)
                request = correction(request, response, str(exc))
                continue
            return self._enrichment(finding, answer)
        return None

    def _enrichment(self, finding: Finding, answer: dict[str, Any]) -> Enrichment:
        risk = max(
            finding.risk_score - MAX_RISK_REVISION, min(finding.risk_score + MAX_RISK_REVISION, answer["risk_score"])
        )
        used = f"{finding.model_used}+{self.model_id}" if finding.model_used else self.model_id
        return Enrichment(
            explanation=answer["explanation"],
            recommendations=answer["recommendations"],
            model_used=used,
            risk_score=max(0, min(100, risk)),
            prediction_type=answer["prediction_type"],
        )


def enabled(settings: PluginSettings | None = None) -> bool:
    return (settings or PluginSettings.from_env()).bedrock_enabled


def resource_arns(model_id: str, region: str, account: str, partition: str = "aws") -> list[str]:
    """What ``bedrock:InvokeModel`` must be allowed on to call ``model_id`` (for the stack's IAM).

    A cross-region inference profile (``us.``/``eu.``/``apac.``/``global.`` prefix) needs the
    profile and the foundation model in every region the profile may route to.
    """
    if model_id.startswith("arn:"):
        return [model_id]
    prefix, _, base = model_id.partition(".")
    if prefix in ("us", "eu", "apac", "global", "us-gov", "jp", "au") and base:
        return [
            f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{model_id}",
            f"arn:{partition}:bedrock:*::foundation-model/{base}",
        ]
    return [f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"]


@hookimpl
def register_enrichers(register):
    settings = PluginSettings.from_env()
    if settings.bedrock_enabled:
        register(BedrockEnricher(model_id=settings.bedrock_model_id))
