"""The NAB v1.1 scorer: reproduces the published scores and follows the README rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detectors import nab

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "nab"
needs_corpus = pytest.mark.skipif(
    not (CORPUS / "reference" / "expected_scores.json").is_file(), reason=f"NAB corpus not found at {CORPUS}"
)


@needs_corpus
def test_reproduces_published_reference_scores() -> None:
    expected = json.loads((CORPUS / "reference" / "expected_scores.json").read_text())["scores"]
    files = nab.read_corpus(CORPUS)
    weights = [nab.row_weights(f.timestamps, f.windows) for f in files]
    assert sum(w.windows for w in weights) == 36
    for detector, profiles in expected.items():
        scores = [nab.read_scores(CORPUS / "reference" / detector / f.key) for f in files]
        for profile, want in profiles.items():
            got = nab.sweep(scores, weights, profile)
            assert got.score == pytest.approx(want["normalized"], abs=0.01), (detector, profile)
            assert got.threshold == pytest.approx(want["threshold"], abs=1e-9), (detector, profile)
            per_file = sum(nab.raw_at(s, w, profile, got.threshold) for s, w in zip(scores, weights, strict=True))
            assert per_file == pytest.approx(got.raw, abs=1e-6)


def test_scaled_sigmoid() -> None:
    assert float(nab.scaled_sigmoid(0.0)) == pytest.approx(0.0)
    assert float(nab.scaled_sigmoid(-1.0)) == pytest.approx(2 / (1 + np.exp(-5)) - 1)
    assert float(nab.scaled_sigmoid(3.5)) == -1.0


def _file(rows: int, window: tuple[int, int] | None) -> tuple[np.ndarray, nab.RowWeights]:
    ts = np.arange(rows, dtype=float) * 300
    windows = [(ts[window[0]], ts[window[1]])] if window else []
    return ts, nab.row_weights(ts, windows)


def test_probation_rows_are_not_scored() -> None:
    _, w = _file(1000, None)
    assert w.rows[0] == 150
    scores = np.zeros(1000)
    scores[:150] = 1.0  # alarms during probation cost nothing
    assert nab.raw_at(scores, w, "standard", 0.5) == 0.0
    _, big = _file(10000, None)
    assert big.rows[0] == 750


def test_earliest_detection_counts_once_and_missed_window_costs_a_fn() -> None:
    _, w = _file(1000, (500, 599))
    early, late = np.zeros(1000), np.zeros(1000)
    early[[500, 550, 590]] = 1.0
    late[590] = 1.0
    assert nab.raw_at(early, w, "standard", 0.5) == pytest.approx(1.0)
    # 10 rows before the right edge of a 100-row window: sigma(-0.1) / sigma(-1)
    want = (2 / (1 + np.exp(-0.5)) - 1) / (2 / (1 + np.exp(-5)) - 1)
    assert nab.raw_at(late, w, "standard", 0.5) == pytest.approx(want)
    assert nab.raw_at(np.zeros(1000), w, "reward_low_FN_rate", 0.5) == -2.0


def test_false_positives_cost_less_just_after_a_window() -> None:
    _, w = _file(1000, (300, 399))
    before, just_after, far = (np.zeros(1000) for _ in range(3))
    before[200] = just_after[401] = far[900] = 1.0
    base = nab.raw_at(np.zeros(1000), w, "standard", 0.5)  # the missed window
    assert nab.raw_at(before, w, "standard", 0.5) - base == pytest.approx(-0.11)
    assert -0.01 < nab.raw_at(just_after, w, "standard", 0.5) - base < 0
    assert nab.raw_at(far, w, "standard", 0.5) - base == pytest.approx(-0.11, abs=1e-3)


def test_sweep_finds_the_best_threshold_and_normalises() -> None:
    _, w = _file(1000, (500, 599))
    scores = np.full(1000, 0.1)
    scores[700:710] = 0.6  # false alarms far after the window
    scores[510] = 0.8
    best = nab.sweep([scores], [w], "standard")
    assert best.threshold == 0.8
    assert best.score == pytest.approx(100 * (nab.raw_at(scores, w, "standard", 0.8) + 1) / 2)
    never = nab.sweep([np.zeros(1000)], [w], "standard")
    assert (never.threshold, never.score) == (nab.NO_DETECTION_THRESHOLD, 0.0)


def test_window_labels_with_fractional_seconds_and_unlabelled_files(tmp_path: Path) -> None:
    (tmp_path / "data" / "catA").mkdir(parents=True)
    (tmp_path / "labels").mkdir()
    rows = "\n".join(f"2020-01-01 {h:02d}:{m:02d}:00,{h}" for h in range(3) for m in range(0, 60, 5))
    for name in ("a.csv", "b.csv"):
        (tmp_path / "data" / "catA" / name).write_text("timestamp,value\n" + rows + "\n")
    labels = {"catA/a.csv": [["2020-01-01 01:00:00.000000", "2020-01-01 01:30:00.000000"]]}
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps(labels))
    files = nab.read_corpus(tmp_path)
    assert [f.key for f in files] == ["catA/a.csv", "catA/b.csv"]
    assert nab.window_rows(files[0].timestamps, files[0].windows) == [(12, 18)]
    assert files[1].windows == []
