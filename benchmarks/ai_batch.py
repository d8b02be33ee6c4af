"""Time the AI tier: cold start (import + plugin load) and one 100-record batch over 10 series.

Runs the real `handlers.ai.handler` against in-process moto (so DynamoDB calls cost moto's
time, not AWS's). Usage: python benchmarks/ai_batch.py [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from local.offline import OFFLINE_AWS  # noqa: E402 - after sys.path

os.environ.update(
    {
        **OFFLINE_AWS,
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
)
from local.emulator import function_environment, function_settings  # noqa: E402 - after sys.path

os.environ.update(function_environment(*function_settings("iops-dev").values()))  # the functions' settings

COLD = "import time; t=time.perf_counter(); import handlers.ai as a; a.get_processor(); print(time.perf_counter()-t)"


def cold_start(runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        res = subprocess.run([sys.executable, "-c", COLD], cwd=ROOT, capture_output=True, text=True, check=True)
        out.append(float(res.stdout.strip().splitlines()[-1]))
    return out


def batch_times(runs: int) -> list[float]:
    from moto import mock_aws

    from handlers.definitions import TABLES
    from iops.dal import aws, metrics
    from iops.models.common import Metric
    from iops.settings import AiSettings, IngestSettings
    from local.lambda_runtime import LocalContext

    with mock_aws():
        aws.reset()
        s = AiSettings.from_env()
        names = {
            "metrics": IngestSettings.from_env().metrics_table,
            "insights": s.insights_table,
            "detector-state": s.state_table,
        }
        for t in TABLES:
            aws.client("dynamodb").create_table(
                **t.create_table_kwargs(names.get(t.logical, t.physical_name("iops-dev")))
            )
        from handlers import ai

        ai.reset()
        start = time.time() - 86_400
        times = []
        for run in range(runs + 3):  # 3 warm-up batches build detector state first
            records = []
            for i in range(100):
                host, step = f"host-{i % 10}", run * 10 + i // 10
                item = metrics.to_item(
                    Metric(host, int((start + 60 * step) * 1000), {"cpuUsage": 30.0 + (i % 7)}), time.time(), 90
                )
                records.append(
                    {
                        "eventName": "INSERT",
                        "eventSource": "aws:dynamodb",
                        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
                        "dynamodb": {
                            "NewImage": item,
                            "SequenceNumber": f"{run:06d}{i:06d}",
                            "StreamViewType": "NEW_IMAGE",
                        },
                    }
                )
            t0 = time.perf_counter()
            resp = ai.handler({"Records": records}, LocalContext("bench-ai", 60))
            elapsed = time.perf_counter() - t0
            assert resp == {"batchItemFailures": []}, resp
            if run >= 3:
                times.append(elapsed)
        return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    cold = cold_start(5)
    print(f"AI cold start (import handlers.ai + load plugins), median of 5: {statistics.median(cold) * 1000:.0f} ms")
    times = batch_times(args.runs)
    print(
        f"one 100-record batch over 10 series, median of {len(times)}: {statistics.median(times) * 1000:.1f} ms "
        f"(p90 {sorted(times)[int(0.9 * len(times))] * 1000:.1f} ms) [detectors: {os.environ.get('IOPS_DETECTORS', 'statistical')}]"
    )


if __name__ == "__main__":
    main()
