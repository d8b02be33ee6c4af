"""Run by tests/local/test_faults.py in its own process: `iops local` in-process, its emulator restarted.

Prints one JSON object: what the API answered while the emulator was down, and what was stored
and detected once it was back. A separate process, because `LocalSystem` points the process's
environment and handler modules at its emulator.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from moto.server import ThreadedMotoServer

from cli.token_cmd import AppClient, sign_in
from local.emulator import free_port
from local.system import LocalSystem
from local.traffic import post
from tests.local.iops_process import http


def main() -> None:
    logging.disable(logging.CRITICAL)
    system = LocalSystem(port=free_port(), writers={"local": "k"}).start()
    assert system.pool is not None
    token = sign_in(
        AppClient(system.pool.region, system.pool.client_id, system.pool.endpoint), system.user, system.password
    )
    url, host, t0 = system.url, "emu-restart", int(time.time()) - 4 * 3600
    acknowledged: list[int] = []
    outage: list[tuple[int, object]] = []

    def send(first: int, count: int) -> None:
        for i in range(first, first + count):
            value = 95.0 if i == 250 else 30 + (i % 7) * 0.5
            if post(url, "k", [{"hostname": host, "timestamp": t0 + 60 * i, "cpuUsage": value}], retries=10)[
                "accepted"
            ]:
                acknowledged.append(i)

    send(0, 150)
    port = int(system.emu.endpoint.rsplit(":", 1)[1])
    system.emu.server.stop()
    outage.append(http("POST", f"{url}/metrics", {"hostname": host, "timestamp": t0, "cpuUsage": 1}, key="k"))
    outage.append(http("GET", f"{url}/insights/recent", token=token))
    client = threading.Thread(target=send, args=(150, 150))  # the demo keeps sending through the outage
    client.start()
    time.sleep(2.0)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    system.emu.server = server
    client.join(timeout=120)
    status, page = http("GET", f"{url}/metrics?hostname={host}&limit=1000", token=token)
    deadline = time.monotonic() + 60
    spike: list[dict] = []
    while not spike and time.monotonic() < deadline:
        spike = [
            i for i in http("GET", f"{url}/insights?host={host}", token=token)[1]["insights"] if i["observed"] == 95.0
        ]
        time.sleep(0.5)
    print(
        json.dumps(
            {
                "outage": outage,
                "acknowledged": len(acknowledged),
                "stored": len(page["metrics"]) if status == 200 else -1,
                "spike_insights": len(spike),
            }
        ),
        flush=True,
    )
    system.stop()


if __name__ == "__main__":
    main()
