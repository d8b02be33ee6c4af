"""Lambda code packages, built by ``pulumi up`` itself and cached by content hash.

A package holds the Lambda-side source (``handlers/``, ``detectors/``), its dependencies
installed for the Lambda platform (manylinux wheels only) together with the detector SDK of this
repo (``sdk/``, not on a registry, so a plugin's ``iops-detector-sdk`` requirement resolves to it),
and a small dist-info carrying this project's entry points so plugin discovery works in Lambda
exactly as on a laptop. Nothing of Pulumi or the components goes in.

pip runs in the project directory, so a relative path in ``extraDetectorPackages`` is relative to
it (where ``Pulumi.yaml`` is); a local path's files are part of the content hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from components.config import BuildSettings

ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = ROOT / ".iops-build"
SOURCE_PACKAGES = ("iops", "handlers", "detectors")
SDK_DIR = ROOT / "sdk"
"""The iops-detector-sdk distribution, installed into every package with the dependencies."""
LAMBDA_PYTHON = "3.12"
LAMBDA_PLATFORM = "manylinux2014_x86_64"
UNZIPPED_LIMIT = 250 * 1024 * 1024
STRIP_DIRS = {"tests", "test", "__pycache__", "benchmarks", "docs", "examples"}
STRIP_SUFFIXES = {".pyc", ".pyi", ".pyx", ".pxd", ".c", ".cpp", ".h", ".md"}


@dataclass(frozen=True, slots=True)
class ArtifactSpec:
    """What goes into one Lambda package."""

    kind: str
    requirements: tuple[str, ...]
    no_deps: tuple[str, ...] = ()
    """Installed without their dependencies (what they need is in the Lambda runtime already)."""
    source_only: tuple[str, ...] = ()
    """Top-level directories shipped without bytecode: their ``.pyc`` files would not fit Lambda's size limit."""


TRACING = ("aws-xray-sdk>=2.14,<3", "wrapt>=1.16")
"""Powertools' Tracer needs the X-Ray SDK, whose only other dependency, botocore, the runtime has:
installing it would put a second botocore (about 25 MB) in the package, ahead of the runtime's."""
API = ArtifactSpec(
    "api",
    (
        "aws-lambda-powertools>=3,<4",
        "pydantic>=2.10,<3",
        # the standard ingest formats (imported by their first request, not at cold start)
        "opentelemetry-proto>=1.27",
        "protobuf>=5.26",
        "cramjam>=2.8",
    ),
    TRACING,
)
"""The ingest, query and insights functions: small, quick to cold-start."""
AI = ArtifactSpec(
    "ai",
    (
        "aws-lambda-powertools>=3,<4",
        "pydantic>=2.10,<3",
        "pluggy>=1.5",
        "numpy>=1.26",
        "scipy>=1.11",
        "pandas>=2.1",
        "statsmodels>=0.14",
        "python-dateutil<3",  # the Lambda runtime's botocore needs <3; ours would shadow it
    ),
    TRACING,
    # their bytecode is 33 MiB more: with it the package is 245 of Lambda's 250 MiB, no room for plugins
    source_only=("numpy", "scipy", "pandas", "statsmodels"),
)


def with_extras(spec: ArtifactSpec, extra: list[str]) -> ArtifactSpec:
    return dataclasses.replace(spec, requirements=spec.requirements + tuple(extra)) if extra else spec


def _tree_files(root: Path) -> list[Path]:
    """The files of a source tree, without what building or importing it leaves behind."""
    if root.is_file():
        return [root]
    return [
        path
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and path.suffix != ".pyc"
        and not any(part in ("__pycache__", "build") or part.endswith(".egg-info") for part in path.parts)
    ]


def _source_files(spec: ArtifactSpec) -> list[Path]:
    """What the package is built from: our sources, the SDK, and requirements that are local paths."""
    files = [path for pkg in SOURCE_PACKAGES for path in _tree_files(ROOT / pkg)]
    files += _tree_files(SDK_DIR)
    for req in spec.requirements:
        local = ROOT / req
        if "://" not in req and local.exists():
            files += _tree_files(local)
    return files + [ROOT / "pyproject.toml"]


@cache
def lambda_python() -> str | None:
    """An interpreter of the Lambda runtime's Python version on this machine, to compile bytecode with.

    Lambda's task root is read-only, so a package without ``.pyc`` files is compiled from source on
    every cold start (each import parses and compiles its module); bytecode of another Python
    version would be ignored. Without such an interpreter the package ships sources only.
    """
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    settings = BuildSettings.from_env()
    pyenv = Path(settings.pyenv_root or Path.home() / ".pyenv")
    managed = [  # where pyenv and uv keep the interpreters they installed
        *sorted(pyenv.glob(f"versions/{LAMBDA_PYTHON}.*/bin/python")),
        *sorted(Path.home().glob(f".local/share/uv/python/cpython-{LAMBDA_PYTHON}.*/bin/python{LAMBDA_PYTHON}")),
    ]
    for candidate in (
        settings.lambda_python,
        sys.executable,
        shutil.which(f"python{LAMBDA_PYTHON}"),
        *map(str, managed),
    ):
        if not candidate:
            continue
        try:
            version = subprocess.run([candidate, "-c", probe], capture_output=True, text=True, timeout=30).stdout
        except OSError:
            continue
        if version.strip() == LAMBDA_PYTHON:
            return candidate
    return None


def _compile(target: Path, python: str, skip: tuple[str, ...], quiet: bool) -> None:
    """Bytecode for every module outside ``skip``, checked by nothing (no mtimes), paths as in Lambda."""
    dirs = [str(path) for path in sorted(target.iterdir()) if path.name not in skip and not path.name.endswith("-info")]
    cmd = [
        python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
        "-s", str(target), "-p", "/var/task", *dirs,
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=quiet)


def content_hash(spec: ArtifactSpec, with_deps: bool) -> str:
    compiled = with_deps and lambda_python() is not None
    h = hashlib.sha256(
        f"{spec.kind}|{spec.requirements}|{spec.no_deps}|{spec.source_only}|{with_deps}|{compiled}|{LAMBDA_PYTHON}|{LAMBDA_PLATFORM}".encode()
    )
    for path in _source_files(spec):
        h.update(os.path.relpath(path, ROOT).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _write_dist_info(target: Path) -> None:
    """A minimal dist-info so `importlib.metadata` finds the built-in plugins' entry points."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    info = target / f"iops_dashboard-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    lines = []
    for group, entries in project.get("entry-points", {}).items():
        lines.append(f"[{group}]")
        lines.extend(f"{name} = {value}" for name, value in entries.items())
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def _strip(target: Path) -> None:
    """Drop what dependencies ship but never import at run time (tests, stubs, C sources)."""
    for path in sorted(target.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and path.name in STRIP_DIRS:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.suffix in STRIP_SUFFIXES:
            path.unlink()


def build(spec: ArtifactSpec, with_deps: bool | None = None, quiet: bool = True) -> Path:
    """The package directory for ``spec``, built once per content hash."""
    if with_deps is None:
        with_deps = BuildSettings.from_env().with_deps
    out = BUILD_DIR / f"{spec.kind}-{content_hash(spec, with_deps)}"
    if out.is_dir():
        return out
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    # a private directory: two builds at once (a test run beside a preview) must not share one
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=BUILD_DIR))
    tmp.chmod(0o755)  # mkdtemp's 0700 would reach the zip, and Lambda's user could not read it
    if with_deps:
        cmd = [
            sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-compile",
            "--target", str(tmp), "--platform", LAMBDA_PLATFORM, "--implementation", "cp",
            "--python-version", LAMBDA_PYTHON, "--only-binary=:all:", *spec.requirements, str(SDK_DIR),
        ]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=quiet, cwd=ROOT)
        if spec.no_deps:
            no_deps = [*cmd[: cmd.index("--only-binary=:all:") + 1], "--no-deps", *spec.no_deps]
            subprocess.run(no_deps, check=True, capture_output=quiet, cwd=ROOT)
        _strip(tmp)
    for pkg in SOURCE_PACKAGES:
        shutil.copytree(ROOT / pkg, tmp / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _write_dist_info(tmp)
    if with_deps and (python := lambda_python()):
        _compile(tmp, python, spec.source_only, quiet)
    try:
        tmp.rename(out)
    except OSError:  # the other build finished first: its package is the same
        shutil.rmtree(tmp, ignore_errors=True)
        if not out.is_dir():
            raise
    _prune(spec.kind)
    return out


def _prune(kind: str, keep: int = 3) -> None:
    """Keep the newest few packages of a kind: every source change makes a new one (AI: ~200 MB)."""
    old = sorted(BUILD_DIR.glob(f"{kind}-*"), key=lambda p: p.stat().st_mtime, reverse=True)[keep:]
    for path in old:
        shutil.rmtree(path, ignore_errors=True)


def unzipped_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
