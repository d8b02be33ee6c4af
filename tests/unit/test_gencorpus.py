"""The generated development corpus (`detectors.gencorpus`, ``make corpus``)."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import numpy as np
import pytest

from detectors import gencorpus, nab

NAB = Path(__file__).resolve().parents[3] / "shared" / "nab"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "a"
    gencorpus.generate(out)
    return out


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_same_seed_gives_byte_identical_files(corpus: Path, tmp_path: Path) -> None:
    again = tmp_path / "b"
    gencorpus.generate(again)
    assert _tree(corpus) == _tree(again)
    match, mismatch, errors = filecmp.cmpfiles(corpus, again, _tree(corpus), shallow=False)
    assert not mismatch and not errors and len(match) == len(_tree(corpus))


def test_another_seed_gives_other_values(corpus: Path, tmp_path: Path) -> None:
    other = tmp_path / "c"
    gencorpus.generate(other, seed=gencorpus.SEED + 1)
    name = "data/genLatency/api_p50_latency_ms.csv"
    assert (corpus / name).read_bytes() != (other / name).read_bytes()


def test_nab_layout_that_the_scorer_reads(corpus: Path) -> None:
    files = nab.read_corpus(corpus)
    assert 25 <= len(files) <= 40
    assert 100_000 <= sum(len(f.timestamps) for f in files) <= 250_000
    categories = {f.category for f in files}
    assert {"genLatency", "genDemand", "genCounters", "genInfra", "genNoAnomaly"} <= categories
    assert sum(1 for c in categories if any(f.windows for f in files if f.category == c)) >= 2  # CV is by category
    assert not any(f.windows for f in files if f.category == "genNoAnomaly")
    for f in files:
        assert np.all(np.diff(f.timestamps) > 0) and np.all(np.isfinite(f.values)), f.key
    raw = json.loads((corpus / "labels" / "combined_windows.json").read_text())
    assert set(raw) == {f.key for f in files}
    stamp = next(w[0][0] for w in raw.values() if w)
    assert len(stamp) == len("2014-04-10 07:15:00.000000") and stamp.endswith(".000000")
    header = (corpus / "data" / files[0].key).read_text().splitlines()[0]
    assert header == "timestamp,value"


def test_windows_are_nab_style(corpus: Path) -> None:
    for f in nab.read_corpus(corpus):
        if not f.windows:
            continue
        rows = nab.window_rows(f.timestamps, f.windows)
        width = sum(r - l + 1 for l, r in rows)  # noqa: E741
        assert 0.08 * len(f.timestamps) <= width <= 0.11 * len(f.timestamps), f.key  # 10 % of the file
        assert rows[0][0] > nab.probation_length(len(f.timestamps)), f.key  # after probation
        assert all(a[1] < b[0] for a, b in zip(rows, rows[1:], strict=False)), f.key  # no overlap


def test_sampling_is_varied(corpus: Path) -> None:
    steps = {f.key: np.median(np.diff(f.timestamps)) for f in nab.read_corpus(corpus)}
    assert {60.0, 300.0, 600.0, 3600.0} <= set(steps.values())
    irregular = [
        f for f in nab.read_corpus(corpus) if np.std(np.diff(f.timestamps)) > 0.2 * np.median(np.diff(f.timestamps))
    ]
    assert len(irregular) >= 2


@pytest.mark.skipif(not NAB.is_dir(), reason="../shared/nab not present")
def test_no_file_shares_a_name_with_nab(corpus: Path) -> None:
    ours = {p.name for p in (corpus / "data").glob("*/*.csv")}
    theirs = {p.name for p in (NAB / "data").glob("*/*.csv")}
    assert not ours & theirs
