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
from datetime import UTC, datetime
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

    window: int = 32
    hidden: int = 16
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
    memory: float = 0.9999
    """Per-point fade of the calibration's records and envelope (half-life about 6,900 points, 24 days at 5 min)."""
    warmup: int = 288
    """Residuals a series needs before it scores (a day at 5 minutes: a new host's noise sets no records)."""
    scale_alpha: float = 0.003
    """Update weight of the running residual scale (0.001-0.005 measured as a plateau; docs/ml.md)."""
    level_alpha: float = 0.1
    clip: float = 4.0
    """Residuals are clipped at ``clip`` times the running scale before they update it (Huber)."""
    noise_z: float = lstm_model.NOISE_Z
    """Envelope floor in noise standard deviations (0: none)."""
    record_noise_floor: int = 0
    """1: records never count as lower than Gaussian noise's 1e-5 quantile (quieter on noise, lower NAB CV)."""
    level_floor: float = 1e-3
    """Scale floor relative to the level: a flat series scores its first move high, not a division by 0."""
    seed: int = 7
    threads: int = 1
    exclude_categories: str = ""
    """Comma-separated categories (NAB folders, ``generated``) left out of training: a CV fold's model."""


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


def _epoch(text: str) -> float:
    """``YYYY-MM-DD HH:MM:SS[.ffffff]`` (NAB) or epoch seconds; naive times are UTC."""
    try:
        return float(text)
    except ValueError:
        stamp = datetime.fromisoformat(text.strip())
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


@dataclass(slots=True)
class TrainingSeries:
    """One time-ordered series of a data directory, with 0/1 labels and where it came from."""

    name: str
    """``<dir>/<host>#<metric>`` for long-format CSVs, ``<dir>/<category>/<file>`` for NAB layout."""
    category: str
    """NAB category (folder) or ``"generated"`` for long-format host files."""
    values: np.ndarray
    labels: np.ndarray


def _read_long_format(directory: Path) -> list[TrainingSeries]:
    found: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    for path in sorted(directory.glob("*.csv")):
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                found.setdefault((path.stem, row["metric"]), []).append(
                    (float(row["timestamp"]), float(row["value"]), int(row.get("label") or 0))
                )
    out = []
    for (host, metric), rows in found.items():
        rows.sort()
        arr = np.asarray(rows)
        out.append(
            TrainingSeries(f"{directory.name}/{host}#{metric}", "generated", arr[:, 1], arr[:, 2].astype(np.int8))
        )
    return out


def _read_nab_layout(corpus: Path) -> list[TrainingSeries]:
    """A NAB-layout corpus: ``data/<category>/<file>.csv`` (timestamp,value), labels = inside a window."""
    windows = json.loads((corpus / "labels" / "combined_windows.json").read_text())
    out = []
    for path in sorted((corpus / "data").glob("*/*.csv")):
        key = f"{path.parent.name}/{path.name}"
        with path.open(newline="") as fh:
            rows = [
                (_epoch(r["timestamp"]), float(r["value"]))
                for r in csv.DictReader(fh)
                if r.get("value") not in (None, "")
            ]
        if not rows:
            continue
        t, v = np.asarray(rows).T
        labels = np.zeros(len(t), dtype=np.int8)
        for start, end in windows.get(key, windows.get(key.replace("/", "\\"), [])):
            labels[(t >= _epoch(start)) & (t <= _epoch(end))] = 1
        keep = np.isfinite(v)
        out.append(TrainingSeries(f"{corpus.name}/{key}", path.parent.name, v[keep], labels[keep]))
    return out


def read_series(data_dir: str | Path, exclude_categories: tuple[str, ...] = ()) -> list[TrainingSeries]:
    """Every series under a data directory (= a SageMaker channel), time-ordered.

    The directory may hold long-format host CSVs (`training.data`), be a NAB-layout corpus
    (``data/<category>/<file>.csv`` + ``labels/combined_windows.json``, labelled windows count
    as anomalous), or hold any mix of both in subdirectories (one level or more), so one
    channel can carry several corpora. Series of an excluded category are left out (the
    cross-validation folds: a model that never saw the category it is scored on).
    """
    root = Path(data_dir)
    out: list[TrainingSeries] = []
    if (root / "labels" / "combined_windows.json").is_file() and (root / "data").is_dir():
        out.extend(_read_nab_layout(root))
    else:
        out.extend(_read_long_format(root))
        for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                out.extend(read_series(sub))
            except FileNotFoundError:
                continue
    out = [s for s in out if s.category not in exclude_categories]
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


def describe_data(data_dirs: list[str | Path], series: list[TrainingSeries], excluded: tuple[str, ...]) -> dict:
    """What the model was trained on: per data directory its manifest (if any) and series counts."""
    sources = []
    for d in data_dirs:
        path = Path(d)
        manifest = path / "manifest.json"
        sources.append(
            {
                "dir": path.name,
                "manifest": json.loads(manifest.read_text()) if manifest.exists() else None,
            }
        )
    by_category: dict[str, int] = {}
    for s in series:
        by_category[s.category] = by_category.get(s.category, 0) + 1
    return {
        "sources": sources,
        "series_by_category": dict(sorted(by_category.items())),
        "points": int(sum(len(s.values) for s in series)),
        "excluded_categories": list(excluded),
    }


def make_windows(series: list[TrainingSeries], hp: Hyperparameters, part: str) -> Windows:
    """Sliding windows over the first (``part="train"``) or last (``"val"``) part of each series."""
    xs, ys, clean = [], [], []
    w = hp.window
    for s in series:
        values, labels = s.values, s.labels
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


def event_hits(scores: np.ndarray, anomalous: np.ndarray, threshold: float, horizon: int = 10) -> tuple[int, int]:
    """(detected, total) labelled anomalies, an anomaly being a run of anomalous points.

    Detected means scoring >= threshold within its first ``horizon`` points: per event, not per
    point, because a forecaster flags the onset of a level shift and then adapts to it.
    """
    edges = np.diff(np.concatenate([[0], anomalous.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    hits = sum(bool(scores[a : min(b, a + horizon)].max() >= threshold) for a, b in zip(starts, ends, strict=True))
    return hits, len(starts)


def validate(model: lstm_model.LstmModel, series: list[TrainingSeries], hp: Hyperparameters) -> dict:
    """Stream each series through the exported model and measure on its validation part.

    Reports the share of labelled anomalies caught at score 0.5 and at the score that 0.1 % of
    normal points exceed (a false-alarm budget), and how often normal points reach 0.5.
    """
    parts = []
    for s in series:
        if s.category != "generated":
            continue  # NAB-layout windows are wide spans, not onsets: the per-event recall needs exact labels
        values, labels = s.values, s.labels
        cut = int(len(values) * (1 - hp.val_fraction))
        scores = np.asarray(model.score_values(lstm_model.new_series_state(), list(values)))
        parts.append((scores[cut:], labels[cut:] > 0))
    if not parts:
        return {}
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
    data_dir: str | Path | list[str | Path],
    model_dir: str | Path,
    hp: Hyperparameters,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train, early-stop on the validation split, calibrate, export; returns the artifact's JSON."""
    started = time.perf_counter()
    torch.manual_seed(hp.seed)
    torch.set_num_threads(hp.threads)
    rng = np.random.default_rng(hp.seed)
    data_dirs = [data_dir] if isinstance(data_dir, str | Path) else list(data_dir)
    excluded = tuple(c.strip() for c in hp.exclude_categories.split(",") if c.strip())
    series = [s for d in data_dirs for s in read_series(d, excluded)]
    tr = make_windows(series, hp, "train")
    va = make_windows(series, hp, "val")
    # a jump out of a flat window is huge in window units and unforecastable: clip the target so
    # that such windows (square waves, flat lines with steps) do not dominate the loss
    clip = lstm_model.INPUT_CLIP
    x_tr, y_tr = tr.x[tr.clean], np.clip(tr.y[tr.clean], -clip, clip)
    x_va, y_va = va.x[va.clean], np.clip(va.y[va.clean], -clip, clip)
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
    # the forecaster must beat "same as the last value" on held-out windows, in window units
    mae = float(np.mean(np.abs(y_va - _predict(model, x_va))))
    naive_mae = float(np.mean(np.abs(y_va - x_va[:, -1])))
    log(f"validation MAE {mae:.4f} (last value: {naive_mae:.4f}) in window-scale units")
    meta: dict[str, Any] = {
        "schema_version": lstm_model.SCHEMA_VERSION,
        "kind": "lstm-forecaster",
        "model_version": f"lstm-w{hp.window}-h{hp.hidden}-s{hp.seed}",
        "window": hp.window,
        "hidden": hp.hidden,
        "layers": hp.layers,
        "normalisation": {"rel_floor": hp.rel_floor, "abs_floor": hp.abs_floor},
        "likelihood": {
            "memory": hp.memory,
            "warmup": hp.warmup,
            "scale_alpha": hp.scale_alpha,
            "level_alpha": hp.level_alpha,
            "clip": hp.clip,
            "rel_floor": hp.level_floor,
            "noise_z": hp.noise_z,
            "noise_floor": list(lstm_model.NOISE_FLOOR) if hp.record_noise_floor else [0.0, 0.0],
        },
    }
    out = Path(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = model.export_weights()
    np.savez_compressed(out / f"{ARTIFACT_STEM}.npz", **weights)
    exported = lstm_model.LstmModel(meta, {k: v.astype(np.float64) for k, v in weights.items()})
    meta["training"] = {
        "hyperparameters": asdict(hp),
        "epochs_run": epochs_run,
        "best_val_loss": round(best[0], 6),
        "val_mae": round(mae, 4),
        "val_mae_last_value": round(naive_mae, 4),
        **validate(exported, series, hp),
        "train_windows": int(len(x_tr)),
        "seconds": round(time.perf_counter() - started, 1),
        "torch": torch.__version__,
        "data": describe_data(data_dirs, series, excluded),
    }
    (out / f"{ARTIFACT_STEM}.json").write_text(json.dumps(meta, indent=1) + "\n")
    _copy_serving_code(out / "code")
    log(
        f"wrote {out / ARTIFACT_STEM}.npz/.json in {meta['training']['seconds']}s; "
        f"validation: event recall {meta['training'].get('val_event_recall_at_0.5')} at 0.5, "
        f"{meta['training'].get('val_event_recall_at_0.1pct_normal')} at 0.1 % false alarms"
    )
    return meta


def _copy_serving_code(code_dir: Path) -> None:
    """Put the SageMaker inference entry beside the model so ``model.tar.gz`` serves as is."""
    code_dir.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).resolve().parent
    shutil.copy2(here / "inference.py", code_dir / "inference.py")
    for name in lstm_model.FLAT_MODULES:  # the model code and what it imports, flat as the endpoint loads them
        shutil.copy2(Path(lstm_model.__file__).with_name(name), code_dir / name)


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, Hyperparameters]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--train",
        action="append",
        help="data directory (repeat for several; default: the SM_CHANNEL_TRAINING channel)",
    )
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"), help="where the artifact goes")
    defaults = Hyperparameters()
    for name, value in asdict(defaults).items():
        flags = dict.fromkeys([f"--{name.replace('_', '-')}", f"--{name}"])  # SageMaker passes --max_train_windows
        parser.add_argument(*flags, dest=name, type=type(value), default=value)
    args = parser.parse_args(argv)
    if not args.train and os.environ.get("SM_CHANNEL_TRAINING"):
        args.train = [os.environ["SM_CHANNEL_TRAINING"]]
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
