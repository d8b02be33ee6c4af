"""Cross-validated NAB scores: everything fitted is fitted on the other folds only.

What is fitted in a NAB evaluation is the threshold of each profile (and, for a weighted
ensemble, its weights). Detectors are causal and not fitted to the corpus, so every file is
scored once; cross-validation only refits the thresholds (and weights) per fold, which costs
one `nab.sweep` per fold and profile (a sort of the training rows).

Folds (`make_folds`):

* leave-one-category-out when at least two categories have labelled windows (then every
  training set has windows to fit on, and a fold never shares a category with its training
  folds); ``k`` is ignored, the number of folds is the number of categories (a category
  without windows is a fold too: the threshold fitted on the others is applied to it and its
  false positives count);
* otherwise grouped K-fold by file: files sorted by key, file ``i`` in fold ``i % k``
  (deterministic).

The CV score of a profile is the NAB score of the whole corpus (`nab.normalise` over all
windows) where each file's rows are thresholded at the threshold fitted without its fold.

A training set without any window is degenerate (NAB's sweep would pick "never alarm"); it
gets the lowest threshold that raises no alarm on it: just above its highest score.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from detectors import nab


@dataclass(slots=True)
class Folds:
    method: str
    """``leave-one-category-out`` or ``grouped-kfold-by-file``."""
    names: list[str]
    """Fold names: the category, or ``fold<i>``."""
    members: list[list[int]]
    """File indices of each fold."""


def make_folds(files: Sequence[nab.CorpusFile], k: int) -> Folds:
    """Leave-one-category-out if >= 2 categories have windows, else grouped K-fold by file."""
    categories = sorted({f.category for f in files})
    windowed = {f.category for f in files if f.windows}
    if len(windowed) >= 2:
        members = [[i for i, f in enumerate(files) if f.category == c] for c in categories]
        return Folds("leave-one-category-out", categories, members)
    if k < 2:
        raise ValueError(f"--cv needs K >= 2 (got {k})")
    order = sorted(range(len(files)), key=lambda i: files[i].key)
    k = min(k, len(files))
    members = [sorted(order[j::k]) for j in range(k)]
    return Folds("grouped-kfold-by-file", [f"fold{j}" for j in range(k)], members)


def fit_threshold(scores: Sequence[np.ndarray], weights: Sequence[nab.RowWeights], profile: str) -> tuple[float, bool]:
    """NAB-optimal threshold on a training set; (threshold, degenerate)."""
    if sum(w.windows for w in weights) == 0:
        top = max((float(np.max(s[w.rows])) for s, w in zip(scores, weights, strict=True) if len(w.rows)), default=1.0)
        return min(nab.NO_DETECTION_THRESHOLD, float(np.nextafter(top, math.inf))), True
    return nab.sweep(list(scores), list(weights), profile).threshold, False


def score_at(
    scores: Sequence[np.ndarray], weights: Sequence[nab.RowWeights], profile: str, thresholds: Sequence[float]
) -> tuple[float, float | None]:
    """(raw, normalised score) of files each thresholded at its own threshold."""
    raw = sum(nab.raw_at(s, w, profile, t) for s, w, t in zip(scores, weights, thresholds, strict=True))
    return raw, nab.normalise(raw, sum(w.windows for w in weights), profile)


def cross_validate(
    scores: Sequence[np.ndarray],
    weights: Sequence[nab.RowWeights],
    folds: Folds,
    profiles: Sequence[str] = tuple(nab.PROFILES),
) -> dict:
    """``{profile: {"score", "raw", "folds": [{"fold", "files", "windows", "threshold", ...}]}}``."""
    out: dict = {}
    for profile in profiles:
        thresholds = [math.nan] * len(scores)
        fold_info = []
        for name, test in zip(folds.names, folds.members, strict=True):
            held = set(test)
            train = [i for i in range(len(scores)) if i not in held]
            thr, degenerate = fit_threshold([scores[i] for i in train], [weights[i] for i in train], profile)
            for i in test:
                thresholds[i] = thr
            fold_info.append(_fold_record(name, test, scores, weights, profile, thr, degenerate))
        raw, norm = score_at(scores, weights, profile, thresholds)
        out[profile] = {"score": None if norm is None else round(norm, 2), "raw": round(raw, 4), "folds": fold_info}
    return out


def _fold_record(
    name: str,
    test: list[int],
    scores: list[np.ndarray],
    row_weights: list[nab.RowWeights],
    profile: str,
    thr: float,
    degenerate: bool,
    **fitted: object,
) -> dict:
    """What one fold fitted and how its own files score at it (the ``folds`` entries of the report)."""
    raw, norm = score_at([scores[i] for i in test], [row_weights[i] for i in test], profile, [thr] * len(test))
    return {
        "fold": name,
        "files": len(test),
        "windows": sum(row_weights[i].windows for i in test),
        "threshold": thr,
        **fitted,
        "degenerate": degenerate,
        "raw": round(raw, 4),
        "score": None if norm is None else round(norm, 2),
    }


# --- weighted ensembles: weights fitted like the threshold ---------------------------------


def weight_grid(members: int, step: float | None = None) -> list[tuple[float, ...]]:
    """Weight vectors on the simplex (sum 1) with the given step (0.1 for 2-3 members, else 0.25)."""
    step = step or (0.1 if members <= 3 else 0.25)
    n = round(1 / step)
    grid = [tuple(c / n for c in combo) for combo in itertools.product(range(n + 1), repeat=members) if sum(combo) == n]
    return sorted(grid, reverse=True)


def weighted_max(member_scores: Sequence[np.ndarray], w: Sequence[float]) -> np.ndarray:
    """`runtime.combine` with weights, vectorised: each row's largest weighted score, at most 1."""
    return np.minimum(1.0, np.max([wi * s for wi, s in zip(w, member_scores, strict=True)], axis=0))


def fit_weights(
    per_file: Sequence[Sequence[np.ndarray]],
    weights: Sequence[nab.RowWeights],
    profile: str,
    grid: Sequence[tuple[float, ...]],
    combine: Callable[[Sequence[np.ndarray], Sequence[float]], np.ndarray] = weighted_max,
) -> tuple[tuple[float, ...], float, bool]:
    """Best (weights, threshold, degenerate) on a training set: per grid point one sweep."""
    best: tuple[float, tuple[float, ...], float, bool] | None = None
    for w in grid:
        combined = [combine(members, w) for members in per_file]
        if sum(x.windows for x in weights) == 0:
            thr, degenerate = fit_threshold(combined, weights, profile)
            raw = 0.0
        else:
            fit = nab.sweep(combined, list(weights), profile)
            thr, degenerate, raw = fit.threshold, False, fit.raw
        if best is None or raw > best[0] + 1e-12:
            best = (raw, w, thr, degenerate)
    assert best is not None
    return best[1], best[2], best[3]


def cross_validate_weighted(
    per_file: Sequence[Sequence[np.ndarray]],
    weights: Sequence[nab.RowWeights],
    folds: Folds,
    profiles: Sequence[str] = tuple(nab.PROFILES),
    grid: Sequence[tuple[float, ...]] | None = None,
    combine: Callable[[Sequence[np.ndarray], Sequence[float]], np.ndarray] = weighted_max,
) -> dict:
    """Like `cross_validate`, with the ensemble weights fitted per fold beside the threshold.

    ``per_file[i]`` holds the member detectors' scores of file ``i`` (same order as the grid).
    """
    grid = list(grid or weight_grid(len(per_file[0])))
    out: dict = {}
    for profile in profiles:
        combined: list[np.ndarray] = [np.zeros(0)] * len(per_file)
        thresholds = [math.nan] * len(per_file)
        fold_info = []
        for name, test in zip(folds.names, folds.members, strict=True):
            held = set(test)
            train = [i for i in range(len(per_file)) if i not in held]
            w, thr, degenerate = fit_weights(
                [per_file[i] for i in train], [weights[i] for i in train], profile, grid, combine
            )
            for i in test:
                combined[i] = combine(per_file[i], w)
                thresholds[i] = thr
            fold_info.append(_fold_record(name, test, combined, weights, profile, thr, degenerate, weights=list(w)))
        raw, norm = score_at(combined, weights, profile, thresholds)
        out[profile] = {"score": None if norm is None else round(norm, 2), "raw": round(raw, 4), "folds": fold_info}
    return out
