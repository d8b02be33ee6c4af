"""Hook specifications: what a plugin may implement.

A plugin is a module (or object) with ``@hookimpl`` functions, published through the
``iops_dashboard`` entry-point group. The built-in plugins use the same mechanism.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

PROJECT = "iops_dashboard"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_detectors(register: Callable[..., None]) -> None:
    """Call ``register(detector)`` for each `contract.Detector` the plugin provides."""


@hookspec
def register_enrichers(register: Callable[..., None]) -> None:
    """Call ``register(enricher)`` for each `contract.Enricher` the plugin provides."""


@hookspec
def register_grouping_rules(register: Callable[..., None]) -> None:
    """Call ``register(rule)`` for each `contract.GroupingRule` (cross-series pattern) the plugin provides."""
