"""``iops plugins new NAME``: a detector plugin package that installs, passes the contract kit and is found.

The package depends on the SDK only (``iops-detector-sdk``), so its tests run in a venv with
neither the dashboard nor AWS. Its detector is a rolling z-score: causal, JSON state, small and
fast enough for the kit, a starting point rather than a good detector.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from iops_detector_sdk import __version__ as SDK_VERSION

NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
_MAJOR, _MINOR = (int(part) for part in SDK_VERSION.split(".")[:2])
SDK_PIN = f"iops-detector-sdk>={_MAJOR}.{_MINOR},<{_MAJOR}.{_MINOR + 1}"
"""What a generated package requires: this SDK's minor series (a 0.x minor may change the contract)."""


def check_name(name: str, taken: set[str]) -> str | None:
    """Why ``name`` cannot be a plugin and detector name, or None when it can."""
    if not NAME.match(name) or keyword.iskeyword(name):
        return f"{name!r}: use 2-31 lower-case letters, digits or '_', starting with a letter (it names the plugin, detector and module)"
    if name in taken:
        return f"{name!r} is already a plugin or detector name ({', '.join(sorted(taken))})"
    return None


def files(name: str) -> dict[str, str]:
    """Relative path -> content of the package for plugin ``name``."""
    dist, module, cls = f"iops-{name.replace('_', '-')}", f"iops_{name}", _camel(name) + "Detector"
    return {
        "pyproject.toml": PYPROJECT.format(dist=dist, name=name, module=module, sdk=SDK_PIN),
        f"src/{module}/__init__.py": MODULE.format(name=name, cls=cls),
        f"tests/test_{name}.py": TESTS.format(name=name, module=module, cls=cls),
        "README.md": README.format(dist=dist, name=name, module=module),
    }


def write(name: str, directory: Path) -> list[Path]:
    """Write the package into ``directory``, which must not exist yet; returns the files written."""
    if directory.exists():
        raise FileExistsError(f"{directory} already exists; choose another --dir (nothing was written)")
    written = []
    for rel, text in files(name).items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "An IOps Dashboard detector plugin: {name}."
requires-python = ">=3.11"
dependencies = ["{sdk}"]

[project.optional-dependencies]
test = ["pytest>=8"]

# What makes it a plugin: the AI Lambda, iops local and iops plugins find it through this group.
[project.entry-points.iops_dashboard]
{name} = "{module}"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

MODULE = '''\
"""The {name} detector: how far is a point from the series' recent mean, in recent standard deviations?

A rolling z-score over an exponentially weighted mean and variance. It keeps three numbers per
series (JSON state), scores each point before learning from it (causal) and is the same however
points are batched: what the runtime and the contract kit require.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from iops_detector_sdk.contract import Point, SeriesKey, State
from iops_detector_sdk.hookspecs import hookimpl

ALPHA = 0.05
"""Weight of the newest point in the mean and variance (about the last 20 points)."""
WARMUP = 20
"""Points seen before any score other than 0."""
Z_SCALE = 4.0
"""A z-score of this size scores about 0.63."""


class {cls}:
    """Scores each point by its z-score against the exponentially weighted mean and variance."""

    name = "{name}"
    remote = False

    def new_state(self, series: SeriesKey) -> State:
        return {{"n": 0, "mean": 0.0, "var": 0.0}}

    def score(self, series: SeriesKey, state: State, points: Sequence[Point]) -> list[float]:
        scores = []
        for p in points:
            n, mean, var = state["n"], state["mean"], state["var"]
            if n < WARMUP:
                scores.append(0.0)
            else:
                z = abs(p.value - mean) / math.sqrt(var + 1e-12 + (1e-3 * abs(mean)) ** 2)
                scores.append(1.0 - math.exp(-z / Z_SCALE))
            delta = p.value - mean
            mean = p.value if n == 0 else mean + ALPHA * delta
            var = 0.0 if n == 0 else (1 - ALPHA) * (var + ALPHA * delta * delta)
            state.update(n=n + 1, mean=mean, var=var)
        return scores


@hookimpl
def register_detectors(register: Callable[..., None]) -> None:
    register({cls}())
'''

TESTS = """\
from {module} import {cls}
from iops_detector_sdk.contract import Point, SeriesKey
from iops_detector_sdk.testing import assert_detector_contract, assert_plugin_contract


def test_meets_the_detector_contract() -> None:
    assert_detector_contract({cls}())


def test_the_installed_entry_point_registers_it() -> None:
    assert set(assert_plugin_contract("{name}")) == {{"{name}"}}


def test_a_spike_scores_higher_than_noise() -> None:
    det, series = {cls}(), SeriesKey("host", "cpuUsage")
    state = det.new_state(series)
    steady = [Point(60.0 * i, 50.0 + (i % 5)) for i in range(200)]
    scores = det.score(series, state, steady + [Point(12_000.0, 95.0)])
    assert scores[-1] > 0.9 and max(scores[:-1]) < 0.5
"""

README = """\
# {dist}

An IOps Dashboard detector plugin (`iops plugins new {name}`): plugin and detector `{name}`,
module `{module}`. It needs only `iops-detector-sdk`.

```bash
python3 -m venv .venv && .venv/bin/pip install -e '.[test]'
.venv/bin/pytest            # the SDK's contract kit, and that the entry point registers the detector
```

With the dashboard (its checkout's venv):

```bash
.venv/bin/pip install -e path/to/{dist}
.venv/bin/iops plugins                          # {name}  {dist} 0.1.0  detectors: {name}
.venv/bin/iops evaluate --corpus ../shared/nab --detector {name}
.venv/bin/iops local --detectors statistical,{name} --demo
pulumi config set --path 'extraDetectorPackages[0]' path/to/{dist}   # relative to the project directory
pulumi config set --path 'detectors[1]' {name}
.venv/bin/iops plugins build --stack dev        # size, entry points and imports of the AI package, offline
```
"""
