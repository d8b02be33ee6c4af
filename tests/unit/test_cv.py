"""Cross-validation (`detectors.cv`): folds, per-fold thresholds fitted without the fold, the CV score."""

from __future__ import annotations

import numpy as np
import pytest

from detectors import cv, nab

ROWS = 1000
T0 = 1_600_000_000.0


def _file(key: str, window: bool) -> nab.CorpusFile:
    ts = T0 + 300.0 * np.arange(ROWS)
    windows = [(float(ts[500]), float(ts[600]))] if window else []
    return nab.CorpusFile(key, key.split("/")[0], ts, np.zeros(ROWS), windows)


def _toy() -> tuple[list[nab.CorpusFile], list[np.ndarray]]:
    """A, B, C have one window each, detected at its left edge with 0.9, 0.6 and 0.8; C has a
    false positive (0.7) before its window; D has no window and a false positive at 0.65."""
    files = [_file("A/a.csv", True), _file("B/b.csv", True), _file("C/c.csv", True), _file("D/d.csv", False)]
    scores = [np.zeros(ROWS) for _ in files]
    scores[0][500], scores[1][500], scores[2][500] = 0.9, 0.6, 0.8
    scores[2][300] = 0.7
    scores[3][400] = 0.65
    return files, scores


def test_leave_one_category_out_when_two_categories_have_windows() -> None:
    files, _ = _toy()
    folds = cv.make_folds(files, 5)
    assert folds.method == "leave-one-category-out"
    assert folds.names == ["A", "B", "C", "D"]  # the category without windows is a fold too
    assert folds.members == [[0], [1], [2], [3]]


def test_grouped_kfold_by_file_otherwise_and_deterministic() -> None:
    files = [_file(f"only/f{i}.csv", i == 0) for i in range(7)]
    a, b = cv.make_folds(files, 3), cv.make_folds(list(reversed(files)), 3)
    assert a.method == "grouped-kfold-by-file" and len(a.members) == 3
    assert sorted(i for m in a.members for i in m) == list(range(7))
    keys = lambda folds, fs: [sorted(fs[i].key for i in m) for m in folds.members]  # noqa: E731
    assert keys(a, files) == keys(b, list(reversed(files)))  # by key, not by input order


def test_known_thresholds_per_fold_and_whole_corpus_cv_score() -> None:
    files, scores = _toy()
    weights = [nab.row_weights(f.timestamps, f.windows) for f in files]
    got = cv.cross_validate(scores, weights, cv.make_folds(files, 5), ["standard"])["standard"]
    thresholds = {f["fold"]: f["threshold"] for f in got["folds"]}
    # without A: B's 0.6 buys a window for C's FP cost; without B: C's 0.8 alone; without C or D: 0.6
    assert thresholds == {"A": 0.6, "B": 0.8, "C": 0.6, "D": 0.6}
    # A +1, B missed -1, C +1 and its FP -0.11, D's FP at 0.6 -0.11; 3 windows
    assert got["raw"] == pytest.approx(0.78)
    assert got["score"] == pytest.approx(round(100 * (0.78 + 3) / 6, 2))
    assert not any(f["degenerate"] for f in got["folds"])
    # in-sample for comparison is higher: one threshold 0.6 sees every file
    assert nab.sweep(scores, weights, "standard").score > got["score"]


def test_a_folds_threshold_never_sees_its_own_files() -> None:
    files, scores = _toy()
    weights = [nab.row_weights(f.timestamps, f.windows) for f in files]
    folds = cv.make_folds(files, 5)
    before = cv.cross_validate(scores, weights, folds, ["standard"])["standard"]["folds"]
    changed = [s.copy() for s in scores]
    changed[1][:] = np.linspace(0, 1, ROWS)  # B's scores turned upside down
    after = cv.cross_validate(changed, weights, folds, ["standard"])["standard"]["folds"]
    assert before[1]["threshold"] == after[1]["threshold"]  # B's own threshold is unchanged
    assert [f["threshold"] for f in before] != [f["threshold"] for f in after]  # the others did see it


def test_training_set_without_windows_gets_the_lowest_silent_threshold() -> None:
    files = [_file("only/a.csv", True), _file("only/b.csv", False)]
    scores = [np.zeros(ROWS), np.zeros(ROWS)]
    scores[0][500] = 0.9
    scores[1][700] = 0.4
    weights = [nab.row_weights(f.timestamps, f.windows) for f in files]
    folds = cv.make_folds(files, 2)
    got = cv.cross_validate(scores, weights, folds, ["standard"])["standard"]
    by_fold = {tuple(m): f for m, f in zip(folds.members, got["folds"], strict=True)}
    held_a = by_fold[(0,)]
    assert held_a["degenerate"] and 0.4 < held_a["threshold"] < 0.4 + 1e-9  # just above b's highest score
    assert held_a["score"] == 100.0  # applied to a: its 0.9 detection counts


def test_weighted_ensemble_weights_are_fitted_per_fold() -> None:
    files = [_file(f"{c}/f.csv", True) for c in "ABC"]
    weights = [nab.row_weights(f.timestamps, f.windows) for f in files]
    rng = np.random.default_rng(0)
    per_file = []
    for _ in files:
        noise = rng.uniform(0, 1.0, ROWS)  # member 0: noise, higher than the detection
        noise[500] = 0.0
        good = np.zeros(ROWS)
        good[500] = 0.95  # member 1: the detection
        per_file.append([noise, good])
    w, _, _ = cv.fit_weights(per_file, weights, "standard", cv.weight_grid(2))
    assert w[1] > 0.5  # only a weight above the noise's separates the detection from it
    got = cv.cross_validate_weighted(per_file, weights, cv.make_folds(files, 3), ["standard"])["standard"]
    assert all(f["weights"][1] > 0.5 for f in got["folds"])
    assert got["score"] == 100.0
    only_noise = cv.fit_weights(per_file, weights, "standard", [(1.0, 0.0), (0.0, 1.0)])[0]
    assert only_noise == (0.0, 1.0)


def test_weight_grid_is_on_the_simplex() -> None:
    grid = cv.weight_grid(3)
    assert len(grid) == 66 and all(abs(sum(w) - 1) < 1e-9 for w in grid)
    assert len(cv.weight_grid(2)) == 11
