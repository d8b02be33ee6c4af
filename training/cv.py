"""Cross-validation of the LSTM when its training data includes the corpus it is scored on.

``iops evaluate --cv`` refits only thresholds: right for detectors that are not fitted to the
corpus, wrong for an LSTM that trained on it. Here every fold of the corpus gets its own model,
trained on the same data minus that fold's category (`Hyperparameters.exclude_categories`), and
the files of the fold are scored with that model only; then the thresholds are cross-validated
as `detectors.cv` does. The folds are `detectors.cv.make_folds`' leave-one-category-out folds
(a corpus without two windowed categories cannot be cross-validated this way: a model per file
group would still have seen the group's category).

``iops train cv --data DIR [--data DIR ...] --corpus CORPUS --out DIR [--with statistical]``
prints per profile the CV score of ``lstm`` alone and of ``<with>+lstm`` (the runtime's max),
beside ``<with>`` alone, and writes ``cv.json`` under ``--out`` (one model directory per fold).
Runs locally only (imports the project); the shipped model is trained on everything.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from detectors import cv, nab, plugins
from detectors.evaluate import combined, stream_file
from detectors.evaluate import members as members_of
from detectors.lstm import LstmDetector
from training.train import ARTIFACT_STEM, Hyperparameters, train


def fold_scores(
    data_dirs: Sequence[str | Path],
    corpus: str | Path,
    out_dir: str | Path,
    hp: Hyperparameters,
    others: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> tuple[list[nab.CorpusFile], cv.Folds, dict[str, list[np.ndarray]], list[dict[str, Any]]]:
    """Train one model per fold (its category left out) and score the fold's files with it.

    Returns the corpus files, the folds, per detector name (``lstm`` and each of ``others``)
    the per-file scores, and per fold the training facts.
    """
    files = nab.read_corpus(Path(corpus))
    folds = cv.make_folds(files, 2)
    if folds.method != "leave-one-category-out":
        raise ValueError(f"{corpus}: needs at least two categories with windows for per-fold models")
    base = list(dict.fromkeys(m for name in others for m in members_of(name)))
    scores: dict[str, list[np.ndarray]] = {name: [np.zeros(0)] * len(files) for name in ("lstm", *base)}
    facts = []
    other_detectors = {name: plugins.get_detector(name) for name in base}
    for name, members in zip(folds.names, folds.members, strict=True):
        started = time.perf_counter()
        excluded = ",".join(c for c in (hp.exclude_categories, name) if c)
        model_dir = Path(out_dir) / name
        meta = train(list(data_dirs), model_dir, replace(hp, exclude_categories=excluded), log=lambda _line: None)
        detectors = {"lstm": LstmDetector(model_path=model_dir / ARTIFACT_STEM), **other_detectors}
        for i in members:
            per = stream_file(detectors, files[i])
            for det_name in scores:
                scores[det_name][i] = per.scores[det_name]
        t = meta["training"]
        facts.append(
            {
                "fold": name,
                "excluded": excluded.split(","),
                "epochs_run": t["epochs_run"],
                "val_mae": t["val_mae"],
                "val_mae_last_value": t["val_mae_last_value"],
                "series_by_category": t["data"]["series_by_category"],
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        log(f"fold {name}: trained without {excluded} in {facts[-1]['seconds']}s, scored {len(members)} files")
    return files, folds, scores, facts


def cross_validate_lstm(
    data_dirs: Sequence[str | Path],
    corpus: str | Path,
    out_dir: str | Path,
    hp: Hyperparameters | None = None,
    others: Sequence[str] = ("statistical",),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """CV (per-fold models and thresholds) of lstm, each of ``others`` and ``<other>+lstm``."""
    hp = hp or Hyperparameters()
    files, folds, scores, facts = fold_scores(data_dirs, corpus, out_dir, hp, others, log)
    weights = [nab.row_weights(f.timestamps, f.windows) for f in files]
    named: dict[str, list[np.ndarray]] = {"lstm": scores["lstm"]}
    for other in others:  # ``a+b`` is their runtime combination, as in ``iops evaluate``
        for name in (other, f"{other}+lstm"):
            parts = members_of(name)
            named[name] = [combined({p: scores[p][i] for p in parts}, parts) for i in range(len(files))]
    out: dict[str, Any] = {"corpus": str(corpus), "folds": facts, "method": folds.method, "detectors": {}}
    for name, per_file in named.items():
        res = cv.cross_validate(per_file, weights, folds)
        out["detectors"][name] = {
            "cv": {
                p: {"score": r["score"], "thresholds": [f["threshold"] for f in r["folds"]]} for p, r in res.items()
            },
        }
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / "cv.json").write_text(json.dumps(out, indent=1) + "\n")
    return out
