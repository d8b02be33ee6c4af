"""A typo in the detectors stops `iops local` at once, naming it and what is installed."""

from __future__ import annotations

import time

from tests.local.test_auth_local import iops


def test_iops_local_refuses_an_unknown_detector_at_once() -> None:
    started = time.monotonic()
    done = iops("local", "--port", "0", "--detectors", "statistical,nope")
    assert done.returncode == 2, done
    assert "detectors not found: nope" in done.stderr
    assert "installed: " in done.stderr and "statistical" in done.stderr and "contextual" in done.stderr
    assert "Traceback" not in done.stderr and "IOps Dashboard (local)" not in done.stdout
    assert time.monotonic() - started < 60  # before the emulator or any server starts


def test_iops_local_refuses_an_unknown_enricher() -> None:
    done = iops("local", "--port", "0", env={"IOPS_ENRICHERS": "bedrok"})
    assert done.returncode == 2 and "enrichers not found: bedrok" in done.stderr, done
