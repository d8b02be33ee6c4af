"""Framework-free LSTM forecaster: loads the exported artifact and scores values with numpy only.

This module imports nothing from the project, on purpose: the AI Lambda runs it (no torch
there), and the training job copies it next to ``inference.py`` into the model's ``code/``
folder so a SageMaker endpoint serves exactly the same arithmetic.

Artifact = ``<stem>.npz`` (float32 weights, PyTorch names: ``weight_ih_l0``, ``weight_hh_l0``,
``bias_ih_l0``, ``bias_hh_l0``, ... ``head_weight``, ``head_bias``) + ``<stem>.json`` (schema
version, window, hidden size, layers, normalisation floors, error calibration, training facts).

Scoring one value happens in two layers:

1. The model (stateless given the earlier values; what a SageMaker endpoint serves): take the
   ``window`` values before it, normalise them by their own mean and (floored) standard
   deviation, forecast the next normalised value, and measure the absolute error in those units.
   The calibration fitted on normal validation points turns the error into a tail probability
   p and a *surprise* ``-log10 p`` (about 0.43 on average for ordinary points).
2. Per series (`likelihood_scores`, state kept by the detector): the mean surprise of the last
   ``short`` points is compared with the series' own long-run surprise (exponentially weighted
   mean and variance), as in Numenta's anomaly likelihood, so a noisy series does not alarm all
   the time and one quiet series' first jump does. The resulting z gives a tail probability q,
   and the score is ``1 - (1 + x)^-2`` with ``x = max(0, -log10 q - floor) / span``: 0 for
   ordinary stretches, rising smoothly without reaching 1 (no ties at the top, which a threshold
   sweep could not separate). The shipped floor 2 and span 30 put 0.5 at q = 1e-14 (z about 7.7),
   so the score is on the statistical detector's scale and ``max`` combines them usefully
   (docs/ml.md has the measurements). Surprises are capped at ``cap`` and the long-run variance
   floored at ``min_var``, so one wild error or a perfectly flat series cannot dominate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA_VERSION = 1
INPUT_CLIP = 10.0
"""Normalised inputs are clipped so one wild value cannot saturate every gate."""
CHUNK = 64
"""Windows forecast at once. Small on purpose: bigger matmuls make OpenBLAS spread them over
threads, which on a shared 2-core box (or a Lambda's single vCPU) made a 20,000-point series 3x slower."""


def normalise(windows: np.ndarray, rel_floor: float, abs_floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-window mean and floored scale; shared by training and inference so they cannot drift apart."""
    mean = windows.mean(axis=-1)
    var = windows.var(axis=-1)
    scale = np.sqrt(var + (rel_floor * np.abs(mean)) ** 2 + abs_floor**2)
    return mean, scale


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass(slots=True)
class LstmModel:
    """The exported forecaster and its calibration, in float64 numpy."""

    meta: dict[str, Any]
    weights: dict[str, np.ndarray]

    @property
    def window(self) -> int:
        return int(self.meta["window"])

    @property
    def version(self) -> str:
        return str(self.meta.get("model_version", "unversioned"))

    @classmethod
    def load(cls, path: str | Path) -> LstmModel:
        """Load ``<stem>.json`` + ``<stem>.npz``; ``path`` may name either file or the stem."""
        stem = Path(path)
        if stem.suffix in (".json", ".npz"):
            stem = stem.with_suffix("")
        meta = json.loads(stem.with_suffix(".json").read_text())
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"{stem}.json: schema_version {meta.get('schema_version')!r}, expected {SCHEMA_VERSION}")
        with np.load(stem.with_suffix(".npz")) as npz:
            weights = {k: npz[k].astype(np.float64) for k in npz.files}
        return cls(meta, weights)

    def forecast(self, windows: np.ndarray) -> np.ndarray:
        """Next normalised value for each already-normalised window, shape (B, T) -> (B,)."""
        out = np.empty(len(windows))
        for lo in range(0, len(windows), CHUNK):
            out[lo : lo + CHUNK] = self._forecast(windows[lo : lo + CHUNK])
        return out

    def _forecast(self, windows: np.ndarray) -> np.ndarray:
        hidden = int(self.meta["hidden"])
        layers = int(self.meta["layers"])
        seq = windows[:, :, None]  # (B, T, 1)
        for layer in range(layers):
            w_ih = self.weights[f"weight_ih_l{layer}"].T
            w_hh = self.weights[f"weight_hh_l{layer}"].T
            bias = self.weights[f"bias_ih_l{layer}"] + self.weights[f"bias_hh_l{layer}"]
            x_proj = seq @ w_ih + bias  # all time steps' input terms at once
            h = np.zeros((len(seq), hidden))
            c = np.zeros((len(seq), hidden))
            last = layer == layers - 1
            outputs = None if last else np.empty((len(seq), seq.shape[1], hidden))
            for t in range(seq.shape[1]):
                gates = x_proj[:, t] + h @ w_hh
                i = _sigmoid(gates[:, :hidden])
                f = _sigmoid(gates[:, hidden : 2 * hidden])
                g = np.tanh(gates[:, 2 * hidden : 3 * hidden])
                o = _sigmoid(gates[:, 3 * hidden :])
                c = f * c + i * g
                h = o * np.tanh(c)
                if outputs is not None:
                    outputs[:, t] = h
            if outputs is not None:
                seq = outputs
        return h @ self.weights["head_weight"][0] + self.weights["head_bias"][0]

    def errors(self, context: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Absolute forecast error of each of ``values`` (in window-scale units), given earlier ``context``.

        Values with fewer than ``window`` earlier values get NaN (not enough history yet).
        """
        w = self.window
        series = np.concatenate([np.asarray(context, float)[-w:], np.asarray(values, float)])
        first = len(series) - len(values)
        err = np.full(len(values), np.nan)
        start = max(first, w)
        if start >= len(series):
            return err
        windows = np.lib.stride_tricks.sliding_window_view(series[:-1], w)[start - w :]
        targets = series[start:]
        norm = self.meta["normalisation"]
        mean, scale = normalise(windows, norm["rel_floor"], norm["abs_floor"])
        x = np.clip((windows - mean[:, None]) / scale[:, None], -INPUT_CLIP, INPUT_CLIP)
        err[start - first :] = np.abs((targets - mean) / scale - self.forecast(x))
        return err

    def tail_probability(self, errors: np.ndarray) -> np.ndarray:
        """P(error >= e) under the calibration: empirical quantiles, then a fitted exponential tail."""
        cal = self.meta["calibration"]
        probs = np.asarray(cal["probs"], float)
        quantiles = np.asarray(cal["quantiles"], float)
        e = np.nan_to_num(np.asarray(errors, float), nan=0.0)
        body = 1.0 - np.interp(e, quantiles, probs, left=0.0)
        tail = (1.0 - probs[-1]) * np.exp(-(e - quantiles[-1]) / cal["tail_scale"])
        return np.where(e > quantiles[-1], tail, body)

    def surprise(self, context: list[float], values: list[float]) -> list[float | None]:
        """``-log10`` tail probability of each value's forecast error; None while history is short."""
        if not values:
            return []
        errors = self.errors(np.asarray(context, float), np.asarray(values, float))
        s = -np.log10(np.maximum(self.tail_probability(errors), 1e-300))
        return [None if np.isnan(e) else round(float(x), 9) for e, x in zip(errors, s, strict=True)]

    def score_values(self, state: dict[str, Any], values: list[float]) -> list[float]:
        """Scores of ``values`` for a series whose detector state is ``state`` (updated in place)."""
        scores = likelihood_scores(state, self.surprise(state["context"], values), self.meta["likelihood"])
        advance_context(state, values, self.window)
        return scores


def advance_context(state: dict[str, Any], values: list[float], keep: int) -> None:
    """Remember the last ``keep`` raw values: the recurrent window the next batch is forecast from."""
    state["context"] = [float(v) for v in (state["context"] + list(values))[-keep:]]


def new_series_state() -> dict[str, Any]:
    """Per-series state: the recurrent window of raw values and the surprise statistics."""
    return {"context": [], "recent": [], "n": 0, "mean": ORDINARY_SURPRISE[0], "var": ORDINARY_SURPRISE[1]}


ORDINARY_SURPRISE = (1 / math.log(10), 1 / math.log(10) ** 2)
"""Mean and variance of -log10 p for a uniform p: the prior before a series has history."""


def _normal_surprise(z: float) -> float:
    """-log10 P(Z >= z) for a standard normal, without underflow for large z."""
    if z < 8.0:
        return -math.log10(0.5 * math.erfc(z / math.sqrt(2)))
    return z * z / (2 * math.log(10)) + math.log10(z * math.sqrt(2 * math.pi))  # Mills ratio asymptote


def likelihood_scores(state: dict[str, Any], surprises: list[float | None], params: dict[str, Any]) -> list[float]:
    """Per-series anomaly likelihood over surprises (None = warm-up); updates ``state`` in place."""
    short, alpha, warmup = int(params["short"]), float(params["alpha"]), int(params["warmup"])
    recent, n, mean, var = state["recent"], state["n"], state["mean"], state["var"]
    out: list[float] = []
    for s in surprises:
        if s is None:
            out.append(0.0)
            continue
        s = min(s, params["cap"])  # one wild error must not dominate the short mean or blind the long one
        recent.append(s)
        del recent[:-short]
        score = 0.0
        if n >= warmup:
            z = (sum(recent) / len(recent) - mean) / math.sqrt(max(var, params["min_var"]) / len(recent))
            excess = max(0.0, _normal_surprise(z) - params["floor"]) / params["span"]
            score = 1.0 - (1.0 + excess) ** -2
        out.append(score)
        n += 1
        delta = s - mean
        mean += alpha * delta
        var = (1 - alpha) * (var + alpha * delta * delta)
    state.update(n=n, mean=mean, var=var)
    return out
