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
    assert size < 20 * 1024 * 1024
    assert (pkg / "handlers" / "ingest.py").is_file() and (pkg / "aws_lambda_powertools").is_dir()
    assert not (pkg / "components").exists() and not (pkg / "pulumi").exists()
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import handlers.ingest, handlers.query, handlers.insights_api;"
        "assert handlers.ingest.__file__.startswith(sys.argv[1]);"
        "assert not any(m.startswith('pulumi') for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code, str(pkg)], check=True, env={**os.environ, "POWERTOOLS_LOG_LEVEL": "ERROR"})


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


def test_unchanged_sources_reuse_the_package() -> None:
    first = artifacts.build(artifacts.API, with_deps=False)
    mtime = first.stat().st_mtime
    assert artifacts.build(artifacts.API, with_deps=False) == first and first.stat().st_mtime == mtime
    assert artifacts.content_hash(artifacts.API, False) != artifacts.content_hash(
        artifacts.with_extras(artifacts.API, ["iops-detector-example"]), False
    )
