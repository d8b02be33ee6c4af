"""`LocalSystem.stop` is bounded: a worker stuck in a batch does not hold the stop (a CI run once timed out so)."""

from __future__ import annotations

import threading
import time

from local.system import LocalSystem


class StuckWorker(threading.Thread):
    """A worker whose batch never ends: it is told to stop and goes on."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.told = threading.Event()
        self.release = threading.Event()

    def run(self) -> None:
        self.release.wait(60)

    def stop(self) -> None:
        self.told.set()


class PromptWorker(StuckWorker):
    def stop(self) -> None:
        super().stop()
        self.release.set()


def test_stop_gives_up_on_a_stuck_worker_at_the_deadline_and_names_it() -> None:
    stuck, prompt = StuckWorker("stream-pump"), PromptWorker("alert-forwarder")
    system = LocalSystem(pump=stuck, alerts=prompt)
    stuck.start()
    prompt.start()
    started = time.monotonic()
    busy = system.stop(grace_s=0.5)
    took = time.monotonic() - started
    assert busy == ["stream-pump"]
    assert stuck.told.is_set() and prompt.told.is_set()
    assert 0.4 <= took < 2.0, took
    stuck.release.set()


def test_stop_waits_for_workers_that_finish_and_reports_none() -> None:
    prompt = PromptWorker("stream-pump")
    system = LocalSystem(pump=prompt)
    prompt.start()
    assert system.stop(grace_s=5) == []
    assert not prompt.is_alive()
