"""Does a detector's NAB score carry to files its threshold was not fitted on?

NAB optimises one threshold per corpus, on the corpus it scores. Here the files are split at
random in two halves; the threshold is optimised on one half and the other half is scored with
it (both ways, ``--splits`` times). A detector whose score holds up was not fitted to the files.

Run: ``python benchmarks/threshold_transfer.py [--corpus ../shared/nab] [--detector statistical+lstm ...]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detectors import nab, plugins  # noqa: E402
from detectors.evaluate import combined, members, stream_file  # noqa: E402

PROFILE = "standard"


def held_out(scores: list, weights: list[nab.RowWeights], splits: int) -> tuple[list[float], list[float]]:
    """Scores of each test half at the train half's threshold, and at its own best threshold."""
    transfer, own = [], []
    for seed in range(splits):
        idx = list(range(len(scores)))
        random.Random(seed).shuffle(idx)
        halves = (idx[: len(idx) // 2], idx[len(idx) // 2 :])
        for train, test in (halves, halves[::-1]):
            windows = sum(weights[i].windows for i in test)
            if not windows:
                continue
            thr = nab.sweep([scores[i] for i in train], [weights[i] for i in train], PROFILE).threshold
            raw = sum(nab.raw_at(scores[i], weights[i], PROFILE, thr) for i in test)
            transfer.append(nab.normalise(raw, windows, PROFILE))
            own.append(nab.sweep([scores[i] for i in test], [weights[i] for i in test], PROFILE).score)
    return transfer, own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "nab")
    parser.add_argument("--detector", action="append", help="a name or a+b (default: statistical, lstm, both)")
    parser.add_argument("--splits", type=int, default=10)
    args = parser.parse_args()
    names = args.detector or ["statistical", "lstm", "statistical+lstm"]
    base = list(dict.fromkeys(m for n in names for m in members(n)))
    detectors = {m: plugins.get_detector(m) for m in base}
    files = nab.read_corpus(args.corpus)
    weights = [nab.row_weights(f.timestamps, f.windows) for f in files]
    per_file = [stream_file(detectors, f).scores for f in files]
    print(f"{len(files)} files, {args.splits} random 2-fold splits by file, {PROFILE} profile")
    for name in names:
        scores = [combined(s, members(name)) for s in per_file]
        full = nab.sweep(scores, weights, PROFILE)
        transfer, own = held_out(scores, weights, args.splits)
        print(
            f"{name:<20} whole corpus {full.score:6.2f} | other half at the fitted threshold: "
            f"mean {statistics.mean(transfer):6.2f}, worst {min(transfer):6.2f} | "
            f"with its own threshold: mean {statistics.mean(own):6.2f}"
        )


if __name__ == "__main__":
    main()
