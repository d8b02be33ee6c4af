"""``iops plugins build``: the AI Lambda package a stack would deploy, built and checked without a deploy.

It builds with `components.artifacts` (the function ``pulumi up`` calls, same cache) and the stack's
``extraDetectorPackages``, then checks what a deploy would find out too late: the unzipped size
against Lambda's limit, the ``iops_dashboard`` entry points in the package's dist-infos, and that the
handler and every entry point import from the package under the Lambda's Python version.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from iops_detector_sdk.hookspecs import PROJECT

from cli.cost import stack_config
from components import artifacts
from components.function import LAMBDA_RUNTIME

HANDLER = "handlers.ai"

CHECK = """
import importlib, json, sys
pkg, runtime, modules = sys.argv[1], sys.argv[2:-1], json.loads(sys.argv[-1])
sys.path[:0] = [pkg]
sys.path += runtime
errors = {}
for name, module in modules.items():
    try:
        loaded = importlib.import_module(module.split(":")[0])
        if not (getattr(loaded, "__file__", None) or "").startswith(pkg):
            errors[name] = f"{module} was imported from {loaded.__file__}, not from the package"
    except Exception as exc:
        errors[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"python": sys.version.split()[0], "errors": errors}))
"""
"""Run by the checking interpreter without site-packages (``-S``): the package first on sys.path, then
what the Lambda runtime provides (boto3), as in Lambda."""


@dataclass
class Report:
    """What `check` found; ``problems`` empty means the package would deploy."""

    package: Path
    zip_path: Path | None
    unzipped: int
    zipped: int
    entry_points: dict[str, str]
    python: str | None
    import_errors: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """What would break the deploy: the command exits non-zero."""
    notes: list[str] = field(default_factory=list)
    """What could not be checked here."""

    def as_json(self) -> dict[str, Any]:
        return {
            "package": str(self.package),
            "zip": str(self.zip_path) if self.zip_path else None,
            "unzipped_bytes": self.unzipped,
            "zipped_bytes": self.zipped,
            "unzipped_limit_bytes": artifacts.UNZIPPED_LIMIT,
            "entry_points": self.entry_points,
            "lambda_runtime": LAMBDA_RUNTIME,
            "import_python": self.python,
            "import_errors": self.import_errors,
            "problems": self.problems,
            "notes": self.notes,
        }


def extra_packages(stack: str) -> list[str]:
    """The stack's ``extraDetectorPackages`` (Pulumi.yaml's default overlaid with Pulumi.<stack>.yaml)."""
    value = stack_config(stack).get("extraDetectorPackages") or []
    if isinstance(value, str):  # the engine's form of an array on the command line
        return list(json.loads(value)) if value.strip().startswith("[") else [v for v in value.split(",") if v]
    return [str(v) for v in value]


def entry_points(package: Path) -> dict[str, str]:
    """Plugin name -> module of every ``iops_dashboard`` entry point in the package's dist-infos."""
    found: dict[str, str] = {}
    for dist in metadata.distributions(path=[str(package)]):
        for ep in dist.entry_points.select(group=PROJECT):
            found.setdefault(ep.name, ep.value)
    return dict(sorted(found.items()))


def lambda_python(explicit: str | None) -> str | None:
    """An interpreter of the Lambda's Python version: ``explicit``, this one, or python3.X on PATH."""
    want = artifacts.LAMBDA_PYTHON
    candidates = [explicit] if explicit else [sys.executable, shutil.which(f"python{want}")]
    for exe in filter(None, candidates):
        out = subprocess.run(
            [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
        )
        if out.returncode == 0 and out.stdout.strip() == want:
            return exe
    return None


def zip_package(package: Path, out: Path) -> Path:
    """The package as the zip ``pulumi up`` uploads (deflated, paths relative to the package)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{package.name}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for file in sorted(package.rglob("*")):
            if file.is_file():
                z.write(file, file.relative_to(package))
    return path


def check(extras: list[str], out: Path | None, python: str | None, quiet: bool = True) -> Report:
    """Build the AI package with ``extras`` and check it (``out``: keep its zip there)."""
    package = artifacts.build(artifacts.with_extras(artifacts.AI, extras), with_deps=True, quiet=quiet)
    with tempfile.TemporaryDirectory() as tmp:
        zip_path = zip_package(package, out or Path(tmp))
        zipped = zip_path.stat().st_size
    report = Report(
        package, zip_path if out else None, artifacts.unzipped_size(package), zipped, entry_points(package), None
    )
    if report.unzipped > artifacts.UNZIPPED_LIMIT:
        report.problems.append(
            f"{report.unzipped / 2**20:.1f} MiB unzipped is over Lambda's {artifacts.UNZIPPED_LIMIT / 2**20:.0f} MiB limit"
        )
    if not report.entry_points:
        report.problems.append(f"no {PROJECT!r} entry points in the package: no detector would be found")
    exe = lambda_python(python)
    if exe is None:
        report.notes.append(
            f"import not checked: no Python {artifacts.LAMBDA_PYTHON} interpreter (the Lambda runs {LAMBDA_RUNTIME}; "
            f"its compiled wheels do not load in Python {sys.version_info.major}.{sys.version_info.minor}): pass --python"
        )
        return report
    runtime = [sysconfig.get_paths()["purelib"]]  # boto3: the Lambda runtime has it, the package does not
    done = subprocess.run(
        [exe, "-S", "-c", CHECK, str(package), *runtime, json.dumps({"handler": HANDLER, **report.entry_points})],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"POWERTOOLS_LOG_LEVEL": "ERROR"},
    )
    if done.returncode != 0:
        report.problems.append(f"the import check itself failed: {done.stderr.strip()[-500:]}")
        return report
    result = json.loads(done.stdout.strip().splitlines()[-1])
    report.python, report.import_errors = result["python"], result["errors"]
    report.problems += [f"{name} does not import: {error}" for name, error in report.import_errors.items()]
    return report
