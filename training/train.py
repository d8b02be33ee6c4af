"""SageMaker script-mode training of the LSTM forecaster; runs unchanged on a laptop.

In a training job SageMaker passes hyperparameters as ``--name value`` flags and the paths
through ``SM_CHANNEL_TRAINING`` / ``SM_MODEL_DIR``; locally give ``--train`` and ``--model-dir``.
Writes ``<model-dir>/model.npz`` + ``model.json`` (the framework-free artifact, see
``detectors/lstm_model.py``) and ``<model-dir>/code/`` (``inference.py`` + ``lstm_model.py``) so
the same ``model.tar.gz`` can be served by the PyTorch inference image.

The job's source directory holds this file, ``inference.py`` and ``lstm_model.py`` side by side
(`training.launch` stages it), hence the flat-import fallback below.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

try:
    from detectors import lstm_model
except ImportError:  # inside a SageMaker job: flat source directory
    import lstm_model  # type: ignore[no-redef]

ARTIFACT_STEM = "model"


@dataclass(frozen=True, slots=True)
class Hyperparameters:
    """Everything that shapes the model; recorded in the artifact's JSON."""

    window: int = 48
    hidden: int = 32
    layers: int = 1
    epochs: int = 20
    patience: int = 3
    batch_size: int = 256
    learning_rate: float = 3e-3
    val_fraction: float = 0.2
    max_train_windows: int = 60_000
    """Windows sampled per epoch, so an epoch costs the same however much data there is."""
    rel_floor: float = 0.01
    abs_floor: float = 1e-3
    likelihood_short: int = 10
    """Points averaged before comparing with the series' long-run surprise (see lstm_model)."""
    likelihood_alpha: float = 0.005
    likelihood_warmup: int = 50
    seed: int = 7
    threads: int = 1


class Forecaster(nn.Module):
    """LSTM over a normalised window, linear head on the last hidden state."""

    def __init__(self, hidden: int, layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size=1, hidden_size=hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x.unsqueeze(-1))
        return self.head(out[:, -1]).squeeze(-1)

    def export_weights(self) -> dict[str, np.ndarray]:
        """PyTorch parameter names, float32: what `lstm_model.LstmModel` reads."""
        weights = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in self.lstm.state_dict().items()}
        weights["head_weight"] = self.head.weight.detach().cpu().numpy().astype(np.float32)
        weights["head_bias"] = self.head.bias.detach().cpu().numpy().astype(np.float32)
        return weights


def read_series(data_dir: str | Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every (host file, metric) series in a data directory as (values, labels), time-ordered."""
    found: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    for path in sorted(Path(data_dir).glob("*.csv")):
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                found.setdefault((path.stem, row["metric"]), []).append(
                    (float(row["timestamp"]), float(row["value"]), int(row.get("label") or 0))
                )
    out = []
    for rows in found.values():
        rows.sort()
        arr = np.asarray(rows)
        out.append((arr[:, 1], arr[:, 2].astype(np.int8)))
    if not out:
        raise FileNotFoundError(f"no CSV series in {data_dir}")
    return out


@dataclass(slots=True)
class Windows:
    """Normalised windows and targets."""

    x: np.ndarray
    y: np.ndarray
    clean: np.ndarray
    """No labelled anomaly anywhere in the window or target: fit and calibrate on these."""


def make_windows(series: list[tuple[np.ndarray, np.ndarray]], hp: Hyperparameters, part: str) -> Windows:
    """Sliding windows over the first (``part="train"``) or last (``"val"``) part of each series."""
    xs, ys, clean = [], [], []
    w = hp.window
    for values, labels in series:
        cut = int(len(values) * (1 - hp.val_fraction))
        v, lab = (values[:cut], labels[:cut]) if part == "train" else (values[cut - w :], labels[cut - w :])
        if len(v) <= w:
            continue
        win = np.lib.stride_tricks.sliding_window_view(v[:-1], w)
        lab_win = np.lib.stride_tricks.sliding_window_view(lab[:-1], w).any(axis=1)
        mean, scale = lstm_model.normalise(win, hp.rel_floor, hp.abs_floor)
        xs.append(np.clip((win - mean[:, None]) / scale[:, None], -lstm_model.INPUT_CLIP, lstm_model.INPUT_CLIP))
        ys.append((v[w:] - mean) / scale)
        clean.append(~lab_win & (lab[w:] == 0))
    return Windows(
        np.concatenate(xs).astype(np.float32),
        np.concatenate(ys).astype(np.float32),
        np.concatenate(clean),
    )


def calibrate(errors: np.ndarray) -> dict[str, Any]:
    """Quantiles of normal-point errors up to 99 %, and an exponential tail fitted above (MLE)."""
    probs = np.array([0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99])
    quantiles = np.quantile(errors, probs)
    quantiles[0] = 0.0
    excess = errors[errors > quantiles[-1]] - quantiles[-1]
    tail_scale = float(excess.mean()) if len(excess) else float(quantiles[-1] / 4 or 1.0)
    return {
        "probs": probs.tolist(),
        "quantiles": [round(float(q), 6) for q in quantiles],
        "tail_scale": round(max(tail_scale, 1e-6), 6),
        "fitted_on": int(len(errors)),
    }


def event_hits(scores: np.ndarray, anomalous: np.ndarray, threshold: float, horizon: int = 10) -> tuple[int, int]:
    """(detected, total) labelled anomalies, an anomaly being a run of anomalous points.

    Detected means scoring >= threshold within its first ``horizon`` points: per event, not per
    point, because a forecaster flags the onset of a level shift and then adapts to it.
    """
    edges = np.diff(np.concatenate([[0], anomalous.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    hits = sum(bool(scores[a : min(b, a + horizon)].max() >= threshold) for a, b in zip(starts, ends, strict=True))
    return hits, len(starts)


def validate(model: lstm_model.LstmModel, series: list[tuple[np.ndarray, np.ndarray]], hp: Hyperparameters) -> dict:
    """Stream each series through the exported model and measure on its validation part.

    Reports the share of labelled anomalies caught at score 0.5 and at the score that 0.1 % of
    normal points exceed (a false-alarm budget), and how often normal points reach 0.5.
    """
    parts = []
    for values, labels in series:
        cut = int(len(values) * (1 - hp.val_fraction))
        scores = np.asarray(model.score_values(lstm_model.new_series_state(), list(values)))
        parts.append((scores[cut:], labels[cut:] > 0))
    normal = np.concatenate([s[~a] for s, a in parts])
    budget = float(np.quantile(normal, 0.999))

    def recall(threshold: float) -> float | None:
        counts = np.array([event_hits(s, a, threshold) for s, a in parts]).sum(axis=0)
        return round(float(counts[0] / counts[1]), 4) if counts[1] else None

    return {
        "val_event_recall_at_0.5": recall(0.5),
        "val_threshold_at_0.1pct_normal": round(budget, 4),
        "val_event_recall_at_0.1pct_normal": recall(max(budget, 1e-9)),
        "val_normal_above_0.5": round(float((normal >= 0.5).mean()), 5),
    }


def _predict(model: Forecaster, x: np.ndarray, batch: int = 8192) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(x[i : i + batch])).numpy() for i in range(0, len(x), batch)])


def train(
    data_dir: str | Path,
    model_dir: str | Path,
    hp: Hyperparameters,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train, early-stop on the validation split, calibrate, export; returns the artifact's JSON."""
    started = time.perf_counter()
    torch.manual_seed(hp.seed)
    torch.set_num_threads(hp.threads)
    rng = np.random.default_rng(hp.seed)
    series = read_series(data_dir)
    tr = make_windows(series, hp, "train")
    va = make_windows(series, hp, "val")
    x_tr, y_tr = tr.x[tr.clean], tr.y[tr.clean]
    x_va, y_va = va.x[va.clean], va.y[va.clean]
    log(f"{len(series)} series, {len(x_tr)} training and {len(x_va)} validation windows")
    model = Forecaster(hp.hidden, hp.layers)
    optimiser = torch.optim.Adam(model.parameters(), lr=hp.learning_rate)
    loss_fn = nn.HuberLoss(delta=1.0)  # robust to the odd unlabelled outlier in real history
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    stale = 0
    epochs_run = 0
    for epoch in range(1, hp.epochs + 1):
        epoch_started = time.perf_counter()
        model.train()
        idx = rng.permutation(len(x_tr))[: hp.max_train_windows]
        total = 0.0
        for lo in range(0, len(idx), hp.batch_size):
            b = idx[lo : lo + hp.batch_size]
            optimiser.zero_grad()
            loss = loss_fn(model(torch.from_numpy(x_tr[b])), torch.from_numpy(y_tr[b]))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            total += float(loss.detach()) * len(b)
        val_loss = float(loss_fn(torch.from_numpy(_predict(model, x_va)), torch.from_numpy(y_va)))
        epochs_run = epoch
        improved = best is None or val_loss < best[0] - 1e-5
        if improved:
            best = (val_loss, {k: v.clone() for k, v in model.state_dict().items()})
            stale = 0
        else:
            stale += 1
        log(
            f"epoch {epoch}/{hp.epochs} train_loss={total / max(1, len(idx)):.4f} val_loss={val_loss:.4f}"
            f"{' *' if improved else ''} ({time.perf_counter() - epoch_started:.1f}s)"
        )
        if stale >= hp.patience:
            log(f"early stop: no improvement for {hp.patience} epochs")
            break
    assert best is not None
    model.load_state_dict(best[1])
    errors_va = np.abs(va.y - _predict(model, va.x))
    calibration = calibrate(errors_va[va.clean])
    meta: dict[str, Any] = {
        "schema_version": lstm_model.SCHEMA_VERSION,
        "kind": "lstm-forecaster",
        "model_version": f"lstm-w{hp.window}-h{hp.hidden}-s{hp.seed}",
        "window": hp.window,
        "hidden": hp.hidden,
        "layers": hp.layers,
        "normalisation": {"rel_floor": hp.rel_floor, "abs_floor": hp.abs_floor},
        "calibration": calibration,
        "likelihood": {
            "short": hp.likelihood_short,
            "alpha": hp.likelihood_alpha,
            "warmup": hp.likelihood_warmup,
            "cap": 30.0,
            "min_var": 0.05,
            "floor": 2.0,
            "span": 30.0,
        },
    }
    out = Path(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = model.export_weights()
    np.savez_compressed(out / f"{ARTIFACT_STEM}.npz", **weights)
    exported = lstm_model.LstmModel(meta, {k: v.astype(np.float64) for k, v in weights.items()})
    manifest_path = Path(data_dir) / "manifest.json"
    meta["training"] = {
        "hyperparameters": asdict(hp),
        "epochs_run": epochs_run,
        "best_val_loss": round(best[0], 6),
        **validate(exported, series, hp),
        "train_windows": int(len(x_tr)),
        "seconds": round(time.perf_counter() - started, 1),
        "torch": torch.__version__,
        "data": json.loads(manifest_path.read_text()) if manifest_path.exists() else None,
    }
    (out / f"{ARTIFACT_STEM}.json").write_text(json.dumps(meta, indent=1) + "\n")
    _copy_serving_code(out / "code")
    log(
        f"wrote {out / ARTIFACT_STEM}.npz/.json in {meta['training']['seconds']}s; "
        f"validation: event recall {meta['training']['val_event_recall_at_0.5']} at 0.5, "
        f"{meta['training']['val_event_recall_at_0.1pct_normal']} at 0.1 % false alarms"
    )
    return meta


def _copy_serving_code(code_dir: Path) -> None:
    """Put the SageMaker inference entry beside the model so ``model.tar.gz`` serves as is."""
    code_dir.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).resolve().parent
    shutil.copy2(here / "inference.py", code_dir / "inference.py")
    shutil.copy2(Path(lstm_model.__file__), code_dir / "lstm_model.py")


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, Hyperparameters]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAINING"), help="data directory")
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"), help="where the artifact goes")
    defaults = Hyperparameters()
    for name, value in asdict(defaults).items():
        flags = dict.fromkeys([f"--{name.replace('_', '-')}", f"--{name}"])  # SageMaker passes --max_train_windows
        parser.add_argument(*flags, dest=name, type=type(value), default=value)
    args = parser.parse_args(argv)
    if not args.train or not args.model_dir:
        parser.error("--train and --model-dir are required outside SageMaker")
    hp = Hyperparameters(**{k: getattr(args, k) for k in asdict(defaults)})
    return args, hp


def main(argv: list[str] | None = None) -> int:
    args, hp = parse_args(argv)
    train(args.train, args.model_dir, hp, log=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
