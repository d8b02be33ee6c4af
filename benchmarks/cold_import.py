"""Cold import of each Lambda entry point: what a new container pays before its first request.

    python benchmarks/cold_import.py [--runs 7] [--repo PATH] [--python PY]

Each run is a fresh interpreter that imports one handler module (the AI one also loads its
plugins, as its first batch does) and prints the seconds it took; the median of ``--runs`` is
reported. The API functions are imported from their built Lambda package
(`components.artifacts.build(artifacts.API)`: only what ships), the AI function from the
repository with this environment's packages (its package carries binary wheels built for the
Lambda runtime's Python, which this interpreter may not load). ``--repo`` measures another
checkout (an older commit) the same way.

As in Lambda, nothing writes bytecode (the task root is read-only: a package without ``.pyc`` files
compiles every module it imports on every cold start), and the Lambda runtime's variables are set.
``--python`` imports the API packages with another interpreter: one of the Lambda runtime's version
(3.12, with boto3 installed as the runtime has it) loads the packages' C extensions and bytecode;
this environment's 3.11 falls back to pure Python where a package ships both (wrapt) and compiles.
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


def timed(body: str, path: Path, runs: int, env: dict[str, str], python: str = sys.executable) -> float:
    """Median seconds of ``body`` in ``runs`` fresh interpreters with ``path`` first on sys.path."""
    code = TIMED.format(body=body)
    out = [
        float(
            subprocess.run(
                [python, "-c", code, str(path)], cwd=path, env=env, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--repo", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    p.add_argument("--python", default=sys.executable, help="interpreter for the API packages (default: this one)")
    args = p.parse_args(argv)
    repo = args.repo.resolve()
    sys.path.insert(0, str(ROOT))
    from local.emulator import function_environment, function_settings
    from local.offline import OFFLINE_AWS

    # the build compiles bytecode with --python when it is the runtime's version (IOPS_LAMBDA_PYTHON)
    build_env = {"IOPS_LAMBDA_PYTHON": args.python, **os.environ}
    env = {
        **os.environ,
        **OFFLINE_AWS,
        **function_environment(*function_settings("iops-dev").values()),
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_DISABLED": "true",
        # what the Lambda runtime sets: libraries (Powertools, the X-Ray SDK) choose their Lambda path by it
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_LAMBDA_FUNCTION_NAME": "cold-import",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    build = "from components import artifacts; print(artifacts.build(artifacts.API, with_deps=True))"
    package = Path(
        subprocess.run(
            [sys.executable, "-c", build], cwd=repo, capture_output=True, text=True, check=True, env=build_env
        ).stdout.split()[-1]
    )
    print(
        f"{repo.name} @ {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=repo, capture_output=True, text=True).stdout.strip()}, median of {args.runs} fresh interpreters:"
    )
    for module in API_MODULES:
        print(
            f"  {module:22} {timed(f'import {module}', package, args.runs, env, args.python) * 1000:6.0f} ms  (API package)"
        )
    ai = timed("import handlers.ai as a; a.get_processor()", repo, args.runs, env)
    print(f"  {'handlers.ai + plugins':22} {ai * 1000:6.0f} ms  (repository, this environment's packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
