"""Structured logs: the logic modules log a short message and named fields.

``log = get_logger(__name__)``, then ``log.warning("enricher failed", enricher=name, error=exc)``:
the fields go into the record's ``extra`` (Powertools' JSON formatter makes each a key of the line)
and, as ``key=value``, after the message, so a plain stdlib handler (the CLI, ``iops evaluate``)
still shows them.

`structured` hands an entry point's Powertools Logger handler to the project's loggers
(``handlers``, ``detectors``, ``iops`` and their children): in Lambda every line the logic modules
write is then JSON with the function's keys (level, location, service, request id, cold start).
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

PROJECT_LOGGERS = frozenset({"handlers", "detectors", "iops"})
"""Top-level loggers of the code in the Lambda packages."""
_KWARGS = frozenset({"exc_info", "stack_info", "stacklevel", "extra"})


class StructuredLogger(logging.LoggerAdapter):
    """A stdlib logger whose calls take fields as keyword arguments."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        fields = {k: kwargs.pop(k) for k in list(kwargs) if k not in _KWARGS}
        if not fields:
            return msg, kwargs
        values = {k: v if isinstance(v, str | int | float | bool | type(None)) else str(v) for k, v in fields.items()}
        kwargs["extra"] = {**(kwargs.get("extra") or {}), **values}
        text = " ".join(f"{k}={v}" for k, v in values.items())
        return f"{msg} ({text})", kwargs


def get_logger(name: str) -> StructuredLogger:
    return StructuredLogger(logging.getLogger(name), {})


def structured(logger: Logger) -> Logger:
    """Make the project's loggers write through ``logger``'s handler (JSON), at its level; returns it."""
    for name in PROJECT_LOGGERS:
        logging.getLogger(name)  # registered now, so loggers made later (plugins load lazily) inherit it
    copy_config_to_registered_loggers(source_logger=logger, include=set(PROJECT_LOGGERS))
    return logger
