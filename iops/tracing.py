"""X-Ray tracing for every Lambda function: one Powertools Tracer, and subsegments for the slow parts.

Every entry point in ``handlers/`` is wrapped in ``tracer.capture_lambda_handler``; `subsegment` marks
the DynamoDB batch calls (`iops.dal.dynamo`), each detector's run over a batch (`detectors.runtime`)
and the enrichers' model calls (`detectors.bedrock`, `detectors.sagemaker`). The Tracer patches
botocore only (not every library X-Ray knows), so each AWS call inside those is a subsegment too.

Outside Lambda (tests, ``iops local``, the CLI) Powertools turns tracing off by itself (no
``LAMBDA_TASK_ROOT``; `local/` and the tests also set ``POWERTOOLS_TRACE_DISABLED``): subsegments
are the X-Ray SDK's dummies and nothing is sent to an X-Ray daemon.

Powertools v3 imports the X-Ray SDK lazily, but ``Tracer()`` is its first use, so creating the
tracer here imports it: about 7 % of the ingest handler's cold import in its package (in Lambda the
SDK samples locally and builds no botocore client of its own; outside Lambda it builds two, which
only tests and ``iops local`` pay).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Tracer

PATCHED = ("botocore",)
"""Libraries whose calls become subsegments of their own."""

tracer = Tracer(patch_modules=PATCHED)


@contextmanager
def subsegment(name: str, **annotations: str | int | float | bool) -> Iterator[Any]:
    """A subsegment ``## name`` with searchable annotations (X-Ray: letters, digits and _ in keys).

    Yields the subsegment (a dummy when tracing is off): ``put_metadata`` on it adds details.
    """
    with tracer.provider.in_subsegment(f"## {name}") as segment:
        for key, value in annotations.items():
            segment.put_annotation(key, value)
        yield segment
