"""Lambda code packages as `pulumi up` builds them: real platform wheels, within Lambda's limits."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from components import artifacts

pytestmark = pytest.mark.slow


def zipped_size(path: Path) -> int:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for file in path.rglob("*"):
            if file.is_file():
                z.write(file, file.relative_to(path))
    return len(buf.getvalue())


def test_api_package_is_small_complete_and_imports() -> None:
    pkg = artifacts.build(artifacts.API, with_deps=True)
    size = artifacts.unzipped_size(pkg)
    print(f"api package: {size / 1e6:.1f} MB unzipped, {zipped_size(pkg) / 1e6:.1f} MB zipped")
    # 17 MiB of it is sources and extensions; bytecode for the Lambda runtime's Python adds about 7 MiB
    assert size < (32 if artifacts.lambda_python() else 20) * 1024 * 1024
    assert (pkg / "handlers" / "ingest.py").is_file() and (pkg / "aws_lambda_powertools").is_dir()
    assert not (pkg / "components").exists() and not (pkg / "pulumi").exists()
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import handlers.ingest, handlers.query, handlers.insights_api;"
        "assert handlers.ingest.__file__.startswith(sys.argv[1]);"
        "assert not any(m.startswith('pulumi') for m in sys.modules)"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(pkg)], check=True, env={**os.environ, "POWERTOOLS_LOG_LEVEL": "ERROR"}
    )


def test_ai_package_fits_lambdas_unzipped_limit_and_carries_entry_points() -> None:
    pkg = artifacts.build(artifacts.AI, with_deps=True)
    size = artifacts.unzipped_size(pkg)
    print(f"ai package: {size / 1e6:.1f} MB unzipped")
    assert size < artifacts.UNZIPPED_LIMIT
    info = next(pkg.glob("iops_dashboard-*.dist-info"))
    entry_points = (info / "entry_points.txt").read_text()
    assert "[iops_dashboard]" in entry_points and "statistical = detectors.statistical" in entry_points
    for dep in ("numpy", "scipy", "pandas", "statsmodels", "pluggy"):
        assert (pkg / dep).exists(), dep
    assert not list(pkg.rglob("tests")), "test suites of dependencies should be stripped"


def test_packages_carry_unchecked_bytecode_of_the_lambda_python_except_the_large_libraries() -> None:
    """Lambda's task root is read-only: without shipped bytecode every cold start compiles what it imports."""
    if artifacts.lambda_python() is None:
        pytest.skip(f"no Python {artifacts.LAMBDA_PYTHON} here: the packages ship sources only")
    tag = f"cpython-{artifacts.LAMBDA_PYTHON.replace('.', '')}"
    for spec in (artifacts.API, artifacts.AI):
        pkg = artifacts.build(spec, with_deps=True)
        sources = [p for p in pkg.rglob("*.py") if p.relative_to(pkg).parts[0] not in spec.source_only]
        missing = [p for p in sources if not (p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc").is_file()]
        assert sources and not missing, missing[:5]
        pyc = (pkg / "handlers" / "__pycache__" / f"ingest.{tag}.pyc").read_bytes()
        # PEP 552 flags: hash-based (bit 0) and not checked against the source (bit 1 clear), so the
        # archive's file times cannot invalidate it; paths are the ones Lambda runs from
        assert int.from_bytes(pyc[4:8], "little") == 0b01
        assert b"/var/task/handlers/ingest.py" in pyc
        for lib in spec.source_only:
            assert not list((pkg / lib).rglob("*.pyc")), lib
    assert artifacts.AI.source_only and not artifacts.API.source_only


def test_unchanged_sources_reuse_the_package() -> None:
    first = artifacts.build(artifacts.API, with_deps=False)
    mtime = first.stat().st_mtime
    assert artifacts.build(artifacts.API, with_deps=False) == first and first.stat().st_mtime == mtime
    assert artifacts.content_hash(artifacts.API, False) != artifacts.content_hash(
        artifacts.with_extras(artifacts.API, ["iops-detector-example"]), False
    )
