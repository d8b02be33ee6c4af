"""The metric: what ``POST /metrics`` accepts (`MetricIn`, a pydantic model); what is stored is
`iops.models.common.Metric`.

`MetricIn` holds the rules (hostname pattern, timestamp forms and window, the bounds of the known
metrics, metric names, finite numbers); `MetricIn.parse` runs pydantic and reports every problem of
one item in the API's own words (`InvalidMetric.errors`), in the order of the item's fields. The
OpenAPI document's ``MetricIn`` schema is this model's JSON schema.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from iops.models.common import (
    HOSTNAME_RE,
    MAX_ABS_VALUE,
    MAX_METRICS_PER_ITEM,
    METRIC_NAME_RE,
    MIN_EPOCH_S,
    NON_NEGATIVE_FIELDS,
    PERCENT_FIELDS,
    RESERVED,
    TIMESTAMP_REQUIRED,
    InvalidMetric,
    Metric,
    anchored,
    parse_timestamp,
)


def _within_bounds(value: Any) -> Any:
    """Checked before the bounds: integers too large for a float are out of bounds (not "not a
    number"), and infinity or NaN is not finite (not "out of bounds")."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ABS_VALUE:
        raise PydanticCustomError("number_out_of_bounds", "must be within +-{limit}", {"limit": f"{MAX_ABS_VALUE:g}"})
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("finite_number", "must be finite")
    return value


def _metric_name(name: str) -> str:
    if name in RESERVED or not METRIC_NAME_RE.fullmatch(name):
        raise PydanticCustomError("metric_name", "not an allowed metric name")
    return name


def _number(lo: float, hi: float) -> Any:
    # _within_bounds runs first (validators wrap what stands to their left)
    return Annotated[float, Field(strict=True, allow_inf_nan=False, ge=lo, le=hi), BeforeValidator(_within_bounds)]


Percent = _number(0, 100)
NonNegative = _number(0, MAX_ABS_VALUE)
MetricValue = _number(-MAX_ABS_VALUE, MAX_ABS_VALUE)
MetricName = Annotated[str, AfterValidator(_metric_name)]
Timestamp = Annotated[
    int,
    BeforeValidator(
        parse_timestamp,
        json_schema_input_type=Annotated[str, Field(description="ISO 8601")]
        | Annotated[float, Field(ge=MIN_EPOCH_S, description="epoch seconds, up to one day from now")],
    ),
]
"""Epoch milliseconds, from ISO 8601 or epoch seconds (or milliseconds) as sent."""


class MetricIn(BaseModel):
    """One observation; any other numeric field is a metric too."""

    model_config = ConfigDict(extra="allow")

    hostname: Annotated[str, Field(strict=True, pattern=anchored(HOSTNAME_RE))]
    timestamp: Timestamp
    cpuUsage: Percent = None  # type: ignore[assignment]  # absent, never null (null is "must be a number")
    memoryUsage: Percent = None  # type: ignore[assignment]
    diskIO: NonNegative = None  # type: ignore[assignment]
    networkIO: NonNegative = None  # type: ignore[assignment]
    __pydantic_extra__: dict[MetricName, MetricValue] = Field(init=False)  # type: ignore[assignment]

    @classmethod
    def parse(cls, raw: Any) -> Metric:
        """One metric object as stored, or `InvalidMetric` listing everything wrong with it."""
        try:
            model = cls.model_validate(raw)
        except ValidationError as exc:
            if not isinstance(raw, dict):
                raise InvalidMetric(["each metric must be a JSON object"]) from None
            raise InvalidMetric(_messages(raw, exc)) from None
        declared, extra = cls.model_fields, model.__pydantic_extra__ or {}
        values = {k: float(getattr(model, k) if k in declared else extra[k]) for k in raw if k not in _KEYS}
        problems = _count_rules(values, field_errors=False)
        if problems:
            raise InvalidMetric(problems)
        return Metric(model.hostname, model.timestamp, values)


_KEYS = ("hostname", "timestamp")


def _count_rules(valid: dict | list, field_errors: bool) -> list[str]:
    """The item-level rules: at least one metric, at most MAX_METRICS_PER_ITEM."""
    out = []
    if not valid and not field_errors:
        out.append("at least one numeric metric (e.g. cpuUsage) is required")
    if len(valid) > MAX_METRICS_PER_ITEM:
        out.append(f"at most {MAX_METRICS_PER_ITEM} metrics per item")
    return out


def _value_message(name: str, kind: str) -> str:
    """pydantic's verdict on one metric value, in the API's words."""
    if kind == "finite_number":
        return f"{name} must be finite"
    if kind in ("greater_than_equal", "less_than_equal") and name in PERCENT_FIELDS:
        return f"{name} must be a percentage between 0 and 100"
    if kind == "greater_than_equal" and name in NON_NEGATIVE_FIELDS:
        return f"{name} must not be negative"
    if kind in ("greater_than_equal", "less_than_equal", "number_out_of_bounds"):
        return f"{name} must be within +-{MAX_ABS_VALUE:g}"
    return f"{name} must be a number"


def _messages(raw: dict, exc: ValidationError) -> list[str]:
    """Every problem of one item: hostname, timestamp, then its fields in the order sent, then counts."""
    by_field: dict[str, dict] = {}
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0])
        if name not in by_field or error["type"] == "metric_name":  # a bad name hides its value
            by_field[name] = error
    position = {k: i for i, k in enumerate(raw)} | {"hostname": -2, "timestamp": -1}
    out = []
    for name in sorted(by_field, key=lambda n: position.get(n, len(position))):
        error = by_field[name]
        if name == "hostname":
            sent = raw.get("hostname")
            what = "is required" if sent is None else f"{json.dumps(sent)[:80]} is not valid"
            out.append(f"hostname {what}: 1-253 characters of letters, digits, '.', '_', ':' or '-'")
        elif name == "timestamp":
            out.append(str(error["ctx"]["error"]) if error["type"] == "value_error" else TIMESTAMP_REQUIRED)
        elif error["type"] == "metric_name":
            out.append(f"{name[:64]!r} is not an allowed metric name (letters, digits, '_' or '.', max 64)")
        else:
            out.append(_value_message(name, error["type"]))
    field_errors = any(n not in _KEYS for n in by_field)
    valid = [k for k in raw if k not in _KEYS and k not in by_field]
    return out + _count_rules(valid, field_errors)
