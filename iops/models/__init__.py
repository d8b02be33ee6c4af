"""Models (pydantic v2): the metric (`metric.MetricIn`), the insight (`insight.Insight`), the HTTP
API's bodies and parameters (`api`); `schema` turns them into OpenAPI schema objects, from which
`iops.models.openapi` generates the document. `common` holds what they share without pydantic (names,
patterns, bounds, times, ids).

The pydantic modules load on first use: ``from iops import models`` then ``models.Insight`` (or
``models.api``) imports them then. pydantic's own import takes longer (about 0.2-0.3 s on the build
machine) than issue 16's budget for the cold import of the ingest and AI functions allows, so those
functions pay it on the first metric they validate or the first insight they make, not at init.

Severity names and the alert rule are `iops_detector_sdk.severity` (the lowest layer that needs them);
the insight model types its ``severity`` with `iops_detector_sdk.severity.Severity`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iops.models import api, insight, metric, schema
    from iops.models.insight import Insight
    from iops.models.metric import MetricIn

_SUBMODULES = ("api", "insight", "metric", "schema")
_HOMES = {"Insight": "insight", "MetricIn": "metric"}

__all__ = ["Insight", "MetricIn", "api", "insight", "metric", "schema"]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _HOMES:
        value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
