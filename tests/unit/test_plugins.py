"""Plugin discovery: entry points, allow-list, rejected hookimpls, third-party distributions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path

import pluggy
import pytest
from iops_detector_sdk.hookspecs import hookimpl

from detectors import plugins

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch):
    monkeypatch.delenv("IOPS_PLUGINS", raising=False)
    monkeypatch.delenv("IOPS_DETECTORS", raising=False)
    plugins.reset()
    yield
    plugins.reset()


def test_builtins_come_from_this_distributions_entry_points() -> None:
    infos = {i.name: i for i in plugins.plugin_infos()}
    assert {"statistical", "lstm", "sagemaker", "bedrock"} <= set(infos)
    for name in ("statistical", "lstm", "sagemaker", "bedrock"):
        assert infos[name].builtin and infos[name].distribution == "iops-dashboard"
    assert "statistical" in plugins.all_detectors()
    assert list(plugins.enabled_detectors()) == ["statistical", "contextual", "lstm"]  # Pulumi.yaml's default


def test_allow_list_limits_what_loads(monkeypatch) -> None:
    monkeypatch.setenv("IOPS_PLUGINS", "statistical")
    assert [i.name for i in plugins.plugin_infos()] == ["statistical"]


def test_unknown_detector_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("IOPS_DETECTORS", "statistical,nope")
    with pytest.raises(LookupError, match="nope"):
        plugins.enabled_detectors()


def _fake_entry_points(module: types.ModuleType, name: str, monkeypatch) -> None:
    sys.modules[module.__name__] = module
    real = metadata.entry_points

    def entry_points(**kw):
        found = list(real(**kw))
        if kw.get("group") == plugins.ENTRY_POINT_GROUP:
            found.append(metadata.EntryPoint(name, module.__name__, plugins.ENTRY_POINT_GROUP))
        return found

    monkeypatch.setattr(plugins.metadata, "entry_points", entry_points)


def test_a_hookimpl_without_a_hookspec_is_rejected(monkeypatch) -> None:
    bad = types.ModuleType("bad_plugin_for_test")

    @hookimpl
    def register_widgets(register):  # no such hook
        pass

    bad.register_widgets = register_widgets
    _fake_entry_points(bad, "bad", monkeypatch)
    with pytest.raises(pluggy.PluginValidationError, match="register_widgets"):
        plugins.get_plugin_manager()


def test_two_plugins_registering_one_name_is_an_error(monkeypatch) -> None:
    from detectors.statistical import StatisticalDetector

    dup = types.ModuleType("dup_plugin_for_test")

    @hookimpl
    def register_detectors(register):
        register(StatisticalDetector())

    dup.register_detectors = register_detectors
    _fake_entry_points(dup, "dup", monkeypatch)
    with pytest.raises(ValueError, match="statistical"):
        plugins.all_detectors()


def test_builtin_local_detectors_meet_the_contract() -> None:
    from iops_detector_sdk.testing import assert_detector_contract

    for name, det in plugins.all_detectors().items():
        if not det.remote:
            assert_detector_contract(det), name


@pytest.mark.slow
def test_installed_example_plugin_is_listed(tmp_path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target),
         str(ROOT / "examples" / "iops-detector-example")],
        check=True,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "plugins", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {r["plugin"]: r for r in json.loads(out.stdout)}
    assert rows["example"]["source"] == "iops-detector-example 0.1.0"
    assert rows["example"]["detectors"] == [{"name": "jump", "enabled": False}]
    assert rows["statistical"]["source"] == "built-in"


def test_plugins_listing_names_grouping_rules_and_the_switch_of_a_plugin_that_is_off(monkeypatch, capsys) -> None:
    from cli.main import main

    monkeypatch.delenv("BEDROCK_ENABLED", raising=False)
    assert main(["plugins"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "grouping rules: ib-fabric, same-host, same-metric" in lines["patterns"]
    assert lines["bedrock"].endswith("(off: set BEDROCK_ENABLED=true)")
    plugins.reset()
    monkeypatch.setenv("BEDROCK_ENABLED", "true")
    assert main(["plugins", "--json"]) == 0
    rows = {r["plugin"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["bedrock"]["enrichers"] == ["bedrock"] and rows["bedrock"]["switch"] == "BEDROCK_ENABLED"
