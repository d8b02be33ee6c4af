"""Framework-free LSTM forecaster: loads the exported artifact and scores values with numpy only.

This module imports nothing from the project, on purpose: the AI Lambda runs it (no torch
there), and the training job copies it next to ``inference.py`` into the model's ``code/``
folder so a SageMaker endpoint serves exactly the same arithmetic.

Artifact = ``<stem>.npz`` (float32 weights, PyTorch names: ``weight_ih_l0``, ``weight_hh_l0``,
``bias_ih_l0``, ``bias_hh_l0``, ... ``head_weight``, ``head_bias``) + ``<stem>.json`` (schema
version, window, hidden size, layers, normalisation floors, calibration parameters, training facts).

Scoring one value happens in two layers:

1. The model (stateless given the earlier values; what a SageMaker endpoint serves): take the
   ``window`` values before it, normalise them by their own mean and (floored) standard
   deviation, forecast the next normalised value and map it back to the series' units. Its
   output per value is the forecast *residual* ``value - forecast`` (``surprise`` in the
   endpoint protocol; None while fewer than ``window`` earlier values are known).
2. Per series (`likelihood_scores`, state kept by the detector): the calibration that makes one
   threshold serve every series, the same as the statistical detector's. The residual is
   divided by a robust running scale ``b`` (Huber-clipped mean absolute residual) and
   log-compressed, ``u = log(1 + |r| / b)``; ``u`` is averaged over 1 and 10 points and each
   average is divided by its own fading record (the highest value seen, fading by ``memory``
   per point). Range novelty adds the value, and its 10-point mean, leaving the envelope of
   the series' recent values (extremes fading toward a clipped EWMA level), measured in
   envelope widths: ``1 + excess / width``, the envelope never narrower than ``NOISE_Z`` noise
   standard deviations either side of its middle. Both read "1 = as extreme as anything
   recently seen on this series". Score = ``e / (1 + e)`` of the strongest evidence ``e``, in [0, 1).
   The first ``warmup`` residuals of a series score 0.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:
    from detectors.envelope import episode_step, forget, range_novelty, snapshot
except ImportError:  # a SageMaker job or endpoint holds these modules flat, without the package
    from envelope import episode_step, forget, range_novelty, snapshot  # type: ignore[no-redef]

FLAT_MODULES = ("lstm_model.py", "envelope.py")
"""This module and what it imports: the files SageMaker's script mode and endpoint get, side by side."""

SCHEMA_VERSION = 2
"""2: the per-series layer is the record calibration (1 was a surprise likelihood); loaders refuse others."""
INPUT_CLIP = 10.0
"""Normalised inputs (and training targets) are clipped so one wild value cannot saturate every gate."""
CHUNK = 128
"""Windows forecast at once: a stream batch (100 points) in one pass. Not more: bigger matmuls
make OpenBLAS spread them over threads, which on a shared 2-core box (or a Lambda's single vCPU)
made a 20,000-point series 3x slower (measured with hidden 32 and chunks of 64 vs more)."""
SCALES = (1.0, 10.0)
"""Averaging horizons (points) of the log residual and of the value in the range novelty."""
NOISE_FLOOR = (1.877, 0.977)
"""Optional (``noise_floor`` in the calibration parameters; off in the shipped model): a record
never counts as lower than what Gaussian noise reaches once in 100,000 points, per scale: the
1 - 1e-5 quantile of ``log(1 + |z| / E|z|)`` and of its 10-point EWMA (simulated with 4 million
draws; the statistical detector uses the same floors)."""
NOISE_Z = 4.42
"""The envelope is never narrower than this many noise standard deviations either side of its
middle (two-sided Gaussian tail of 1e-5), the noise standard deviation of each smoothed value
being estimated from the residual scale. Without these floors a young or quiet series alarms
whenever noise sets a new record or a new extreme."""
EPISODE = {"quiet": 6, "longest": 288, "peak": 3.0, "keep": 0.5}
"""Incidents do not become the baseline (as in the statistical detector, counted in points): a
flagged episode that reached ``peak`` and ended within ``longest`` points gives back all but
``keep`` of what it added to the records, envelope and residual scale. ``episode`` in the
calibration parameters overrides it; ``"episode": null`` turns it off."""


def normalise(windows: np.ndarray, rel_floor: float, abs_floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-window mean and floored scale; shared by training and inference so they cannot drift apart."""
    mean = windows.mean(axis=-1)
    var = windows.var(axis=-1)
    scale = np.sqrt(var + (rel_floor * np.abs(mean)) ** 2 + abs_floor**2)
    return mean, scale


@dataclass(slots=True)
class LstmModel:
    """The exported forecaster and its calibration parameters, in float64 numpy."""

    meta: dict[str, Any]
    weights: dict[str, np.ndarray]
    _layers: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None

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

    def _prepared(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per layer (W_ih^T, W_hh^T, bias) with the sigmoid gates' columns halved.

        ``sigmoid(x) = (1 + tanh(x / 2)) / 2``: with the input, forget and output gate columns
        pre-scaled by 1/2, one ``tanh`` over all four gates replaces four transcendental calls.
        """
        if self._layers is None:
            hidden = int(self.meta["hidden"])
            half = np.ones(4 * hidden)
            half[: 2 * hidden] = 0.5
            half[3 * hidden :] = 0.5
            layers = []
            for layer in range(int(self.meta["layers"])):
                w_ih = self.weights[f"weight_ih_l{layer}"].T * half
                w_hh = np.ascontiguousarray(self.weights[f"weight_hh_l{layer}"].T * half)
                bias = (self.weights[f"bias_ih_l{layer}"] + self.weights[f"bias_hh_l{layer}"]) * half
                layers.append((w_ih, w_hh, bias))
            self._layers = layers
        return self._layers

    def forecast(self, windows: np.ndarray) -> np.ndarray:
        """Next normalised value for each already-normalised window, shape (B, T) -> (B,)."""
        out = np.empty(len(windows))
        for lo in range(0, len(windows), CHUNK):
            out[lo : lo + CHUNK] = self._forecast(windows[lo : lo + CHUNK])
        return out

    def _forecast(self, windows: np.ndarray) -> np.ndarray:
        hidden = int(self.meta["hidden"])
        layers = self._prepared()
        seq = windows[:, :, None]  # (B, T, 1)
        h = np.zeros((len(seq), hidden))
        for index, (w_ih, w_hh, bias) in enumerate(layers):
            # One input feature (the first layer): its input term is a product, formed per step. Formed
            # for all steps at once it is a (B, T, 4H) temporary whose fresh pages cost more than the
            # recurrence itself; a wider input is one matmul for all steps.
            x_proj = None if w_ih.shape[0] == 1 else seq @ w_ih + bias
            h = np.zeros((len(seq), hidden))
            c = np.zeros((len(seq), hidden))
            last = index == len(layers) - 1
            outputs = None if last else np.empty((len(seq), seq.shape[1], hidden))
            for t in range(seq.shape[1]):
                x_t = seq[:, t] * w_ih[0] + bias if x_proj is None else x_proj[:, t]
                z = np.tanh(x_t + h @ w_hh)
                gate = 0.5 + 0.5 * z  # sigmoid of the (pre-halved) i, f, o gates; column block 2 is unused
                c = gate[:, hidden : 2 * hidden] * c + gate[:, :hidden] * z[:, 2 * hidden : 3 * hidden]
                h = gate[:, 3 * hidden :] * np.tanh(c)
                if outputs is not None:
                    outputs[:, t] = h
            if outputs is not None:
                seq = outputs
        return h @ self.weights["head_weight"][0] + self.weights["head_bias"][0]

    def forecasts(self, context: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Forecast of each of ``values`` in the series' units, given earlier ``context``.

        Values with fewer than ``window`` earlier values get NaN (not enough history yet).
        """
        w = self.window
        series = np.concatenate([np.asarray(context, float)[-w:], np.asarray(values, float)])
        first = len(series) - len(values)
        out = np.full(len(values), np.nan)
        start = max(first, w)
        if start >= len(series):
            return out
        windows = np.lib.stride_tricks.sliding_window_view(series[:-1], w)[start - w :]
        norm = self.meta["normalisation"]
        mean, scale = normalise(windows, norm["rel_floor"], norm["abs_floor"])
        x = np.clip((windows - mean[:, None]) / scale[:, None], -INPUT_CLIP, INPUT_CLIP)
        out[start - first :] = mean + scale * self.forecast(x)
        return out

    def surprise(self, context: list[float], values: list[float]) -> list[float | None]:
        """Forecast residual ``value - forecast`` of each of ``values``; None while history is short.

        This is what the SageMaker endpoint answers (stateless); the per-series calibration
        (`likelihood_scores`) turns residuals into scores.
        """
        if not values:
            return []
        v = np.asarray(values, float)
        resid = v - self.forecasts(np.asarray(context, float), v)
        return [None if np.isnan(r) else round(float(r), 9) for r in resid]

    def score_values(self, state: dict[str, Any], values: list[float]) -> list[float]:
        """Scores of ``values`` for a series whose detector state is ``state`` (updated in place)."""
        scores = likelihood_scores(state, self.surprise(state["context"], values), self.meta["likelihood"], values)
        advance_context(state, values, self.window)
        return scores


def advance_context(state: dict[str, Any], values: list[float], keep: int) -> None:
    """Remember the last ``keep`` raw values: the recurrent window the next batch is forecast from."""
    state["context"] = [float(v) for v in (state["context"] + list(values))[-keep:]]


def new_series_state() -> dict[str, Any]:
    """Per-series state: the recurrent window of raw values and the calibration's running figures."""
    k = len(SCALES)
    return {
        "context": [],
        "n": 0,
        "level": None,
        "b": 0.0,
        "avg": [0.0] * k,
        "rec": [0.0] * k,
        "sm": [0.0] * k,
        "hi": [0.0] * k,
        "lo": [0.0] * k,
    }


def _clip(e: float, limit: float) -> float:
    return max(-limit, min(limit, e))


def likelihood_scores(
    state: dict[str, Any],
    surprises: list[float | None],
    params: dict[str, Any],
    values: list[float] | None = None,
) -> list[float]:
    """Per-series calibration of forecast residuals (None = not enough history); updates ``state``.

    ``values`` are the scored values themselves, needed by the range novelty; without them
    (a caller that only has the endpoint's residuals) only the residual evidence scores.
    The name is historical (the schema-1 layer was a surprise likelihood); the SageMaker
    detector calls it with the endpoint's answers.
    """
    memory, warmup = float(params["memory"]), int(params["warmup"])
    scale_alpha, level_alpha, clip = float(params["scale_alpha"]), float(params["level_alpha"]), float(params["clip"])
    rel_floor = float(params["rel_floor"])
    noise_floor = params.get("noise_floor", (0.0, 0.0))  # off by default: docs/ml.md has the trade-off
    noise_z = float(params.get("noise_z", NOISE_Z))
    episode = params.get("episode", EPISODE)
    n, level, b, ep = state["n"], state["level"], state["b"], state.get("ep")
    avg, rec, sm, hi, lo = state["avg"], state["rec"], state["sm"], state["hi"], state["lo"]
    steps = [1.0 / k for k in SCALES]
    # noise sd of each smoothed value per unit of the mean absolute residual (Gaussian)
    reach_per_b = [noise_z * math.sqrt(math.pi / 2) * math.sqrt(w / (2.0 - w)) for w in steps]
    out: list[float] = []
    for i, r in enumerate(surprises):
        x = None if values is None else float(values[i])
        if r is None or not math.isfinite(r):
            out.append(0.0)
            continue
        if level is None:
            level = x if x is not None else 0.0
            sm[:] = hi[:] = lo[:] = [level] * len(SCALES)
        floor = rel_floor * abs(level) + 1e-9  # flat series: any change is news, not a division by 0
        before = snapshot(rec, hi, lo, [b]) if episode and ep is None else None
        e = abs(r)
        if n < warmup:
            # the scale is a plain running mean that includes this residual, so the first residuals
            # (scale still ~0) cannot set a record that would mask the series for weeks
            b += (e - b) / (n + 1)
        u = math.log1p(e / max(b, floor))
        ratio = 0.0
        for k, step in enumerate(steps):
            avg[k] += step * (u - avg[k])
            if n >= warmup:
                ratio = max(ratio, avg[k] / (max(rec[k], noise_floor[k]) + 1e-9))
            rec[k] = max(rec[k] * memory, avg[k])
        if x is not None:
            scale = max(b, floor)
            reach = [r * scale for r in reach_per_b]
            ratio = max(ratio, range_novelty(sm, hi, lo, x, steps, reach, level, memory, floor, n >= warmup))
        if episode and n >= warmup:
            ep, incident = episode_step(
                ep, ratio, n, before, avg, noise_floor, episode["quiet"], episode["longest"], episode["peak"]
            )
            if incident is not None:
                fade_since = memory ** (n - incident[0])
                (b,) = forget(incident, rec, hi, lo, sm, [b], level, fade_since, episode["keep"])
        lim = clip * max(b, floor)
        if n >= warmup:
            b += scale_alpha * (min(e, lim) - b)
        if x is not None:
            level += level_alpha * _clip(x - level, lim)
        n += 1
        out.append(ratio / (1.0 + ratio))
    state.update(n=n, level=level, b=b, ep=ep)
    return out
