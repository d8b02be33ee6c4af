"""NAB v1.1 corpus reading and scoring, implemented from the rules in the corpus README.

Scoring is split in two so that threshold optimisation is one sort over the whole corpus
instead of a re-scan per candidate threshold: `row_weights` turns a file's timestamps and
labelled windows into, per scorable row, what a detection there is worth and which window it
falls in (independent of the detector); `sweep` then walks every distinct anomaly score of
the corpus from high to low, adding each row's worth once (only the best, i.e. earliest,
detection per window counts) and keeps the threshold with the highest raw score.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PROFILES: dict[str, tuple[float, float, float]] = {
    "standard": (1.0, 0.11, 1.0),
    "reward_low_FP_rate": (1.0, 0.22, 1.0),
    "reward_low_FN_rate": (1.0, 0.11, 2.0),
}
"""Profile name -> (A_TP, A_FP, A_FN)."""
PROBATION_FRACTION = 0.15
PROBATION_MAX = 750
NO_DETECTION_THRESHOLD = 1.1
"""Reported when the best choice is to never alarm (above every score in [0, 1])."""


def scaled_sigmoid(y: float | np.ndarray) -> np.ndarray:
    """NAB's reward curve: 2 / (1 + e^(5y)) - 1, and -1 beyond y = 3."""
    y = np.asarray(y, dtype=float)
    with np.errstate(over="ignore"):
        val = 2.0 / (1.0 + np.exp(5.0 * y)) - 1.0
    return np.where(y > 3.0, -1.0, val)


def probation_length(rows: int) -> int:
    return min(math.floor(PROBATION_FRACTION * rows), PROBATION_MAX)


@dataclass(slots=True)
class CorpusFile:
    """One labelled series: ``key`` is ``category/file.csv`` as in the labels file."""

    key: str
    category: str
    timestamps: np.ndarray
    """Epoch seconds (float), in file order."""
    values: np.ndarray
    windows: list[tuple[float, float]]
    """Labelled anomaly windows as epoch-second [start, end] pairs."""


def to_epoch(text: pd.Series | list[str]) -> np.ndarray:
    """Parse timestamps (naive ones taken as UTC) into epoch seconds."""
    parsed = pd.to_datetime(pd.Series(text), utc=True, format="mixed")
    return (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float)


def read_windows(corpus: Path) -> dict[str, list[tuple[float, float]]]:
    raw = json.loads((corpus / "labels" / "combined_windows.json").read_text())
    out: dict[str, list[tuple[float, float]]] = {}
    for key, windows in raw.items():
        starts, ends = to_epoch([w[0] for w in windows]), to_epoch([w[1] for w in windows])
        out[key.replace("\\", "/")] = sorted(zip(starts.tolist(), ends.tolist(), strict=True))
    return out


def read_corpus(corpus: Path) -> list[CorpusFile]:
    """Every ``data/<category>/<file>.csv``, sorted, with its windows (none when unlabelled)."""
    corpus = Path(corpus)
    windows = read_windows(corpus)
    files: list[CorpusFile] = []
    for path in sorted((corpus / "data").glob("*/*.csv")):
        key = f"{path.parent.name}/{path.name}"
        df = pd.read_csv(path)
        files.append(
            CorpusFile(
                key,
                path.parent.name,
                to_epoch(df["timestamp"]),
                df["value"].to_numpy(dtype=float),
                windows.get(key, []),
            )
        )
    return files


def read_scores(path: Path) -> np.ndarray:
    """The ``anomaly_score`` column of a NAB-style detector output CSV."""
    return pd.read_csv(path)["anomaly_score"].to_numpy(dtype=float)


@dataclass(slots=True)
class RowWeights:
    """What a detection at each scorable row (after probation) of one file is worth."""

    rows: np.ndarray
    """Row indices that are scored (after probation)."""
    window: np.ndarray
    """Window number within the file, or -1 outside every window."""
    tp: np.ndarray
    """In a window: A_TP-free reward in (0, 1]; outside: 0."""
    fp: np.ndarray
    """Outside a window: A_FP-free cost in [-1, 0); inside: 0."""
    windows: int


def window_rows(timestamps: np.ndarray, windows: list[tuple[float, float]]) -> list[tuple[int, int]]:
    """Row ranges [L, R] of the windows (first row at/after start, last at/before end)."""
    out = []
    for start, end in windows:
        left = int(np.searchsorted(timestamps, start, side="left"))
        right = int(np.searchsorted(timestamps, end, side="right")) - 1
        if right >= left:
            out.append((left, right))
    return out


def row_weights(timestamps: np.ndarray, windows: list[tuple[float, float]]) -> RowWeights:
    n = len(timestamps)
    ranges = window_rows(timestamps, windows)
    window = np.full(n, -1, dtype=int)
    tp = np.zeros(n)
    fp = np.full(n, -1.0)  # before the first window a false positive costs the full A_FP
    max_tp = float(scaled_sigmoid(-1.0))
    idx = np.arange(n)
    for k, (left, right) in enumerate(ranges):
        width = right - left + 1
        inside = slice(left, right + 1)
        window[inside] = k
        tp[inside] = scaled_sigmoid(-(right - idx[inside] + 1) / width) / max_tp
        fp[inside] = 0.0
        nxt = ranges[k + 1][0] if k + 1 < len(ranges) else n
        after = slice(right + 1, nxt)
        # a one-row window would divide by zero; NAB never labels one, treat it as width 2
        fp[after] = scaled_sigmoid(np.abs(idx[after] - right) / max(width - 1, 1))
    start = probation_length(n)
    return RowWeights(idx[start:], window[start:], tp[start:], fp[start:], len(windows))


@dataclass(slots=True)
class ProfileScore:
    threshold: float
    raw: float
    score: float
    """Normalised: 0 for never alarming, 100 for a perfect detector."""


def normalise(raw: float, windows: int, profile: str) -> float | None:
    a_tp, _, a_fn = PROFILES[profile]
    null, perfect = -a_fn * windows, a_tp * windows
    return None if perfect == null else 100.0 * (raw - null) / (perfect - null)


def sweep(scores: list[np.ndarray], weights: list[RowWeights], profile: str) -> ProfileScore:
    """Best single threshold for the whole corpus (ties: the highest threshold, as NAB)."""
    a_tp, a_fp, a_fn = PROFILES[profile]
    s_parts, worth, win = [], [], []
    offset = 0
    for sc, w in zip(scores, weights, strict=True):
        s_parts.append(np.asarray(sc, dtype=float)[w.rows])
        worth.append(np.where(w.window >= 0, a_tp * w.tp, a_fp * w.fp))
        win.append(np.where(w.window >= 0, w.window + offset, -1))
        offset += w.windows
    total_windows = offset
    s = np.concatenate(s_parts) if s_parts else np.zeros(0)
    value = np.concatenate(worth) if worth else np.zeros(0)
    wid = np.concatenate(win) if win else np.zeros(0, dtype=int)
    order = np.argsort(-s, kind="stable")
    s, value, wid = s[order], value[order], wid[order]
    inc = np.where(wid < 0, value, 0.0)
    # inside a window only the best (earliest) detection so far counts: add its improvement
    for k in np.unique(wid[wid >= 0]):
        pos = np.flatnonzero(wid == k)
        best = np.maximum.accumulate(value[pos])
        inc[pos] = np.diff(best, prepend=-a_fn)
    base = -a_fn * total_windows
    totals = base + np.cumsum(inc)
    # a threshold admits every row scoring >= it, so evaluate at the last row of each tie group
    last = np.flatnonzero(np.append(s[1:] != s[:-1], True)) if len(s) else np.zeros(0, dtype=int)
    cand_raw = np.concatenate([[base], totals[last]])
    cand_thr = np.concatenate([[NO_DETECTION_THRESHOLD], s[last]])
    best_i = int(np.argmax(cand_raw))
    raw = float(cand_raw[best_i])
    norm = normalise(raw, total_windows, profile)
    return ProfileScore(float(cand_thr[best_i]), raw, 0.0 if norm is None else norm)


def detections_at(scores: np.ndarray, weights: RowWeights, threshold: float) -> tuple[int, int]:
    """(windows with at least one detection, detections outside every window) at a fixed threshold."""
    hit = np.asarray(scores, dtype=float)[weights.rows] >= threshold
    inside = weights.window >= 0
    found = len(set(weights.window[hit & inside].tolist()))
    return found, int((hit & ~inside).sum())


def raw_at(scores: np.ndarray, weights: RowWeights, profile: str, threshold: float) -> float:
    """Raw score of one file at a fixed threshold (per-category breakdowns)."""
    a_tp, a_fp, a_fn = PROFILES[profile]
    hit = np.asarray(scores, dtype=float)[weights.rows] >= threshold
    inside = weights.window >= 0
    raw = float(a_fp * weights.fp[hit & ~inside].sum())
    for k in range(weights.windows):
        in_k = hit & (weights.window == k)
        raw += a_tp * float(weights.tp[in_k].max()) if in_k.any() else -a_fn
    return raw
