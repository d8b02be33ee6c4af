"""Cold import of each Lambda entry point: what a new container pays before its first request.

    python benchmarks/cold_import.py [--runs 7] [--repo PATH]

Each run is a fresh interpreter that imports one handler module (the AI one also loads its
plugins, as its first batch does) and prints the seconds it took; the median of ``--runs`` is
reported. The API functions are imported from their built Lambda package
(`components.artifacts.build(artifacts.API)`: only what ships), the AI function from the
repository with this environment's packages (its package carries binary wheels built for the
Lambda runtime's Python, which this interpreter may not load). ``--repo`` measures another
checkout (an older commit) the same way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
API_MODULES = ("handlers.ingest", "handlers.query", "handlers.insights_api")
TIMED = (
    "import sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter(); {body}; print(time.perf_counter() - t)"
)


def timed(body: str, path: Path, runs: int, env: dict[str, str]) -> float:
    """Median seconds of ``body`` in ``runs`` fresh interpreters with ``path`` first on sys.path."""
    code = TIMED.format(body=body)
    out = [
        float(
            subprocess.run(
                [sys.executable, "-c", code, str(path)], cwd=path, env=env, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--repo", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    args = p.parse_args(argv)
    repo = args.repo.resolve()
    sys.path.insert(0, str(ROOT))
    from local.emulator import function_environment, function_settings
    from local.offline import OFFLINE_AWS

    env = {
        **os.environ,
        **OFFLINE_AWS,
        **function_environment(*function_settings("iops-dev").values()),
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    build = "from components import artifacts; print(artifacts.build(artifacts.API, with_deps=True))"
    package = Path(
        subprocess.run(
            [sys.executable, "-c", build], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.split()[-1]
    )
    print(
        f"{repo.name} @ {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=repo, capture_output=True, text=True).stdout.strip()}, median of {args.runs} fresh interpreters:"
    )
    for module in API_MODULES:
        print(f"  {module:22} {timed(f'import {module}', package, args.runs, env) * 1000:6.0f} ms  (API package)")
    ai = timed("import handlers.ai as a; a.get_processor()", repo, args.runs, env)
    print(f"  {'handlers.ai + plugins':22} {ai * 1000:6.0f} ms  (repository, this environment's packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
