"""The detector SDK: one small distribution with the contract and the kit, enough on its own for a plugin's tests."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import iops_detector_sdk
import pytest
from iops_detector_sdk.contract import Point, SeriesKey, State
from iops_detector_sdk.testing import assert_detector_contract

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "sdk"
EXAMPLE = ROOT / "examples" / "iops-detector-example"


def test_the_sdk_is_small_versioned_and_pinned_by_the_project() -> None:
    sdk = tomllib.loads((SDK / "pyproject.toml").read_text())["project"]
    assert sdk["name"] == "iops-detector-sdk" and sdk["dependencies"] == ["pluggy>=1.5"]
    assert iops_detector_sdk.__version__ == "0.1.0"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert f"iops-detector-sdk=={iops_detector_sdk.__version__}" in project["dependencies"]
    example = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    assert example["dependencies"] == ["iops-detector-sdk>=0.1,<0.2"]
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for path in (SDK / "iops_detector_sdk").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom) and (not isinstance(node, ast.ImportFrom) or node.level == 0)
        for alias in node.names
    }
    assert imported - sys.stdlib_module_names - {"__future__"} == {"pluggy", "iops_detector_sdk"}


def test_one_definition_of_the_contract() -> None:
    for old in ("contract", "hookspecs", "severity", "testing"):
        assert not (ROOT / "detectors" / f"{old}.py").exists(), old


class LooksAhead:
    """Scores each point by the largest value of its batch: uses later points of the same batch."""

    name = "peeker"
    remote = False

    def new_state(self, series: SeriesKey) -> State:
        return {}

    def score(self, series: SeriesKey, state: State, points: list[Point]) -> list[float]:
        top = max(p.value for p in points)
        return [min(1.0, top / 200) for _ in points]


def test_the_kit_says_what_look_ahead_means() -> None:
    with pytest.raises(AssertionError, match="later points were in the same batch: the detector looks ahead"):
        assert_detector_contract(LooksAhead())


@pytest.mark.slow
def test_a_fresh_venv_with_the_sdk_and_the_example_runs_the_kit_in_under_a_minute(tmp_path: Path) -> None:
    """What an author does: a new venv, pip install of the SDK, the plugin and pytest, the plugin's tests."""
    venv = tmp_path / "venv"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, str(SDK), str(EXAMPLE), "pytest"], check=True, capture_output=True)
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    print(f"fresh venv + pip install sdk, example, pytest + kit tests: {seconds:.1f} s")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    assert seconds < 60
