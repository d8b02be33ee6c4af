"""The stack's configuration, typed, with every default taken from ``Pulumi.yaml``.

``Pulumi.yaml`` is the one place a key is declared (type, default, description); reading a key
that is not declared there is an error, so the program and its documentation cannot drift.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import yaml

PROJECT_FILE = Path(__file__).resolve().parents[1] / "Pulumi.yaml"


@cache
def declared() -> dict[str, dict[str, Any]]:
    """Config keys declared in Pulumi.yaml: name -> {type, default, description}."""
    return yaml.safe_load(PROJECT_FILE.read_text())["config"]


class StackConfig:
    """Typed access to the project's config; ``cfg.ingest_memory_mb`` reads ``ingestMemoryMb``."""

    def __init__(self, config: pulumi.Config | None = None) -> None:
        self._config = config or pulumi.Config()
        self.read: set[str] = set()

    def get(self, key: str) -> Any:
        spec = declared().get(key)
        if spec is None:
            raise KeyError(f"config key {key!r} is not declared in Pulumi.yaml")
        self.read.add(key)
        raw = self._config.get(key)
        if raw is None:
            return spec.get("default")
        kind = spec.get("type", "string")
        if kind == "integer":
            return int(raw)
        if kind == "boolean":
            return str(raw).lower() in ("true", "1", "yes")
        if kind == "array":
            return list(json.loads(raw)) if raw.strip().startswith("[") else [v for v in raw.split(",") if v]
        return raw

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        head, *rest = name.split("_")
        return self.get(head + "".join(p[:1].upper() + p[1:] for p in rest))

    @property
    def stack(self) -> str:
        return pulumi.get_stack()

    @property
    def prefix(self) -> str:
        """Prefix of every physical resource name: one stack, one namespace."""
        return f"iops-{self.stack}"
