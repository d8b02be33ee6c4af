"""The plugin manager: discovers detector plugins once, lazily, through entry points.

Built-in plugins are declared in this project's ``pyproject.toml`` under the
``iops_dashboard`` entry-point group exactly like third-party ones, so the AI Lambda,
``iops plugins`` and ``iops evaluate`` all see the same set.

What loads and runs is `iops.settings.PluginSettings` (``IOPS_PLUGINS``: the plugins that load;
``IOPS_DETECTORS``: the loaded detectors that run; ``IOPS_ENRICHERS``: the enrichers), read from the
environment unless a caller passes its own.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy
from iops_detector_sdk import hookspecs
from iops_detector_sdk.contract import Detector, Enricher, GroupingRule

from iops.settings import DEFAULT_DETECTORS, PluginSettings  # noqa: F401 - DEFAULT_DETECTORS is read as plugins'

ENTRY_POINT_GROUP = hookspecs.PROJECT
DISTRIBUTION = "iops-dashboard"
DEFAULT_PLUGINS = {
    "statistical": "detectors.statistical",
    "lstm": "detectors.lstm",
    "sagemaker": "detectors.sagemaker",
    "bedrock": "detectors.bedrock",
    "patterns": "detectors.patterns",
    "contextual": "detectors.contextual",
}
"""Used only when the project runs from a checkout whose entry points are not installed."""


@dataclass(frozen=True, slots=True)
class PluginInfo:
    name: str
    module: str
    distribution: str | None
    version: str | None
    builtin: bool


_pm: pluggy.PluginManager | None = None
_infos: dict[str, PluginInfo] = {}


def get_plugin_manager(settings: PluginSettings | None = None) -> pluggy.PluginManager:
    """Load plugins on first use (those ``settings.plugins`` allows; all by default); later calls return the same manager."""
    global _pm
    if _pm is not None:
        return _pm
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    names = (settings or PluginSettings.from_env()).plugins
    allowed = set(names) if names else None
    infos: dict[str, PluginInfo] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in infos or (allowed is not None and ep.name not in allowed):
            continue
        dist = ep.dist.name if ep.dist else None
        pm.register(ep.load(), name=ep.name)
        infos[ep.name] = PluginInfo(
            ep.name,
            ep.value,
            dist,
            ep.dist.version if ep.dist else None,
            builtin=_is_builtin(dist),
        )
    for name, module in DEFAULT_PLUGINS.items():
        if name not in infos and (allowed is None or name in allowed):
            pm.register(importlib.import_module(module), name=name)
            infos[name] = PluginInfo(name, module, None, None, builtin=True)
    pm.check_pending()  # a hookimpl that matches no hookspec is an error, not a silent no-op
    _pm = pm
    _infos.clear()
    _infos.update(infos)
    return pm


def _is_builtin(dist: str | None) -> bool:
    return dist is not None and dist.replace("_", "-").lower() == DISTRIBUTION


def reset() -> None:
    """Forget loaded plugins (tests, or after changing ``IOPS_PLUGINS``)."""
    global _pm
    _pm = None
    _infos.clear()


def plugin_infos() -> list[PluginInfo]:
    get_plugin_manager()
    return sorted(_infos.values(), key=lambda i: (not i.builtin, i.name))


def _collect(hook: Any) -> dict[str, tuple[str, Any]]:
    """Run a ``register_*`` hook per plugin; returns name -> (plugin, object)."""
    pm = get_plugin_manager()
    found: dict[str, tuple[str, Any]] = {}
    for plugin_name, plugin in pm.list_name_plugin():
        impl = getattr(plugin, hook, None)
        if impl is None:
            continue
        items: list[Any] = []
        impl(register=items.append)
        for item in items:
            if item.name in found:
                raise ValueError(
                    f"{hook}: {item.name!r} registered by both {found[item.name][0]!r} and {plugin_name!r}"
                )
            found[item.name] = (plugin_name, item)
    return found


def all_detectors() -> dict[str, Detector]:
    """Every detector any loaded plugin registers, by name."""
    return {name: det for name, (_, det) in _collect("register_detectors").items()}


def detector_owners() -> dict[str, str]:
    """Detector name -> the plugin that registered it."""
    return {name: plugin for name, (plugin, _) in _collect("register_detectors").items()}


def enricher_owners() -> dict[str, str]:
    """Enricher name -> the plugin that registered it."""
    return {name: plugin for name, (plugin, _) in _collect("register_enrichers").items()}


def grouping_rule_owners() -> dict[str, str]:
    """Grouping rule name -> the plugin that registered it."""
    return {name: plugin for name, (plugin, _) in _collect("register_grouping_rules").items()}


def all_grouping_rules() -> dict[str, GroupingRule]:
    """Every pattern grouping rule any loaded plugin registers, by name."""
    return {name: rule for name, (_, rule) in _collect("register_grouping_rules").items()}


def all_enrichers() -> dict[str, Enricher]:
    return {name: enr for name, (_, enr) in _collect("register_enrichers").items()}


def enabled_enrichers(settings: PluginSettings | None = None) -> dict[str, Enricher]:
    """The enrichers ``settings.enrichers`` names (default: every loaded one)."""
    available = all_enrichers()
    names = (settings or PluginSettings.from_env()).enrichers
    if names is None:
        return available
    return {n: available[n] for n in names if n in available}


def enabled_detector_names(settings: PluginSettings | None = None) -> list[str]:
    """``settings.detectors``: ``IOPS_DETECTORS``, default `DEFAULT_DETECTORS`."""
    return list((settings or PluginSettings.from_env()).detectors)


def usable_detectors(settings: PluginSettings | None = None) -> tuple[dict[str, Detector], list[str]]:
    """The detectors ``settings.detectors`` names that are loaded (in that order), and the names that are not.

    The AI function runs what it has and reports the rest (a typo must not stop every detector)."""
    available = all_detectors()
    names = enabled_detector_names(settings)
    return {n: available[n] for n in names if n in available}, [n for n in names if n not in available]


def unknown_names(settings: PluginSettings | None = None) -> str | None:
    """A message naming every configured detector or enricher that no loaded plugin provides, or None.

    `iops local` refuses to start on it; ``iops evaluate`` and `enabled_detectors` raise it."""
    settings = settings or PluginSettings.from_env()
    problems = []
    _, missing = usable_detectors(settings)
    if missing:
        installed = ", ".join(sorted(all_detectors())) or "none"
        problems.append(f"detectors not found: {', '.join(missing)} (installed: {installed})")
    missing_enrichers = [n for n in settings.enrichers or () if n not in all_enrichers()]
    if missing_enrichers:
        installed = ", ".join(sorted(all_enrichers())) or "none"
        problems.append(f"enrichers not found: {', '.join(missing_enrichers)} (installed: {installed})")
    return "; ".join(problems) or None


def enabled_detectors(settings: PluginSettings | None = None) -> dict[str, Detector]:
    """The detectors ``settings.detectors`` names, in that order; LookupError naming any that is not loaded."""
    found, missing = usable_detectors(settings)
    if missing:
        raise LookupError(unknown_names(settings))
    return found


def get_detector(name: str) -> Detector:
    available = all_detectors()
    if name not in available:
        raise LookupError(f"unknown detector {name!r}; available: {', '.join(sorted(available))}")
    return available[name]
