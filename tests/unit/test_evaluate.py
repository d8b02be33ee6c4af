"""``iops evaluate``: the streaming path, combinations, JSON contract and result files."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from iops_detector_sdk.contract import Point, SeriesKey, State

from cli.main import main
from detectors import evaluate, nab


class Recorder:
    """Scores a fixed value and records how it was called (batch sizes, state it got back)."""

    remote = False
    calibrated = True  # scores as they are: the runtime does not calibrate them

    def __init__(self, name: str, value: float) -> None:
        self.name, self.value = name, value
        self.batches: list[int] = []
        self.state_types: list[str] = []

    def new_state(self, series: SeriesKey) -> State:
        return {"seen": (0, 0)}  # a tuple: survives JSON only as a list

    def score(self, series: SeriesKey, state: State, points: Sequence[Point]) -> list[float]:
        self.batches.append(len(points))
        self.state_types.append(type(state["seen"]).__name__)
        state["seen"] = (state["seen"][0] + len(points), 0)
        return [self.value] * len(points)


def _file(rows: int) -> nab.CorpusFile:
    ts = 1_600_000_000.0 + 300.0 * np.arange(rows)
    return nab.CorpusFile("cat/f.csv", "cat", ts, np.ones(rows), [])


def test_streams_in_batches_of_100_with_json_state_between_them() -> None:
    det = Recorder("rec", 0.3)
    got = evaluate.stream_file({"rec": det}, _file(250))
    assert det.batches == [100, 100, 50]
    assert det.state_types == ["tuple", "list", "list"]  # new state, then always back from JSON
    assert got.scores["rec"].tolist() == [0.3] * 250


def test_repeated_timestamps_get_the_score_of_their_timestamp() -> None:
    file = _file(10)
    file.timestamps[5] = file.timestamps[4]
    got = evaluate.stream_file({"rec": Recorder("rec", 0.7)}, file)
    assert len(got.scores["rec"]) == 10
    assert got.scores["rec"][5] == 0.7


def test_combination_is_the_runtime_combine() -> None:
    scores = {"a": np.array([0.1, 0.9]), "b": np.array([0.5, 0.2])}
    assert evaluate.combined(scores, ["a", "b"]).tolist() == [0.5, 0.9]
    assert evaluate.members(" statistical + lstm ") == ["statistical", "lstm"]


def _corpus(root: Path) -> Path:
    """Two categories, one file without windows, labels keyed 'category/file.csv'."""
    rng = np.random.default_rng(0)
    ts = [f"2021-03-0{1 + i // 288} {(i % 288) // 12:02d}:{(i % 12) * 5:02d}:00" for i in range(1400)]
    for cat, name, spike in (("realThing", "a.csv", 1000), ("other", "quiet.csv", None)):
        values = 10 + rng.normal(0, 1, 1400)
        if spike:
            values[spike : spike + 3] += 30
        (root / "data" / cat).mkdir(parents=True, exist_ok=True)
        with open(root / "data" / cat / name, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["timestamp", "value"])
            w.writerows(zip(ts, values, strict=True))
    (root / "labels").mkdir()
    labels = {"realThing/a.csv": [[ts[960] + ".000000", ts[1040] + ".000000"]], "other/quiet.csv": []}
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))
    return root


def test_cli_json_contract_and_results_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _corpus(tmp_path / "corpus")
    rc = main(
        [
            "evaluate",
            "--corpus",
            str(corpus),
            "--detector",
            "statistical",
            "--json",
            "--results-dir",
            str(tmp_path / "res"),
        ]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out)  # exactly one JSON object on stdout
    assert out["points"] == 2800 and out["seconds"] > 0
    entry = out["detectors"]["statistical"]
    for profile in nab.PROFILES:
        assert set(entry[profile]) >= {"score", "threshold"}
    assert entry["standard"]["score"] > 80  # the injected spike is found, the quiet file stays quiet
    assert set(entry["by_category"]) == {"realThing", "other"}
    assert entry["by_category"]["other"]["standard"]["score"] is None  # no windows: nothing to normalise by
    written = tmp_path / "res" / "statistical" / "realThing" / "statistical_a.csv"
    with open(written) as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score", "label"]
    assert sum(int(r["label"]) for r in rows) == 81
    assert rows[0]["timestamp"] == "2021-03-01 00:00:00"


def test_cli_text_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _corpus(tmp_path / "corpus")
    assert main(["evaluate", "--corpus", str(corpus), "--detector", "statistical", "--profile", "standard"]) == 0
    text = capsys.readouterr().out
    assert "standard" in text and "reward_low_FP_rate" not in text and "realThing" in text


def test_unknown_detector_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _corpus(tmp_path / "corpus")
    assert main(["evaluate", "--corpus", str(corpus), "--detector", "nope", "--json"]) == 2
    assert "nope" in capsys.readouterr().err


def test_cli_cv_json_carries_cv_scores_and_fold_thresholds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _corpus(tmp_path / "corpus")
    assert main(["evaluate", "--corpus", str(corpus), "--detector", "statistical", "--cv", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # only one category has windows: grouped K-fold by file (here one file per fold)
    assert out["cv"]["method"] == "grouped-kfold-by-file" and out["cv"]["k"] == 2
    entry = out["detectors"]["statistical"]
    for profile in nab.PROFILES:
        assert len(entry["cv"][profile]["folds"]) == 2
        assert "score" in entry["cv"][profile] and "score" in entry[profile]
    folds = {f["fold"]: f for f in entry["cv"]["standard"]["folds"]}
    held_a = next(f for f in folds.values() if f["windows"] == 1)
    assert held_a["degenerate"]  # fitted on the quiet file alone: just above its highest score
    assert entry["cv"]["standard"]["score"] <= entry["standard"]["score"] + 1e-9


def test_cli_cv_text_report_shows_both(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _corpus(tmp_path / "corpus")
    assert main(["evaluate", "--corpus", str(corpus), "--detector", "statistical", "--cv", "2"]) == 0
    text = capsys.readouterr().out
    assert "grouped-kfold-by-file" in text and "| cv" in text


def _pulumi_yaml(path: Path, extra: str = "") -> Path:
    path.write_text(
        "name: iops-dashboard\nconfig:\n"
        '  anomalyThreshold: {type: string, default: "0.61", description: "x"}\n'
        '  detectors: {type: array, items: {type: string}, default: ["statistical", "lstm"]}\n' + extra
    )
    return path


def test_stack_config_reads_pulumi_yaml_defaults_and_stack_overrides(tmp_path: Path) -> None:
    cfg = evaluate.stack_config(_pulumi_yaml(tmp_path / "Pulumi.yaml"))
    assert cfg.detectors == ["statistical", "lstm"] and cfg.threshold == 0.61 and cfg.weights is None
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  iops-dashboard:detectors:\n    - statistical\n")
    assert evaluate.stack_config(tmp_path / "Pulumi.yaml", "dev").detectors == ["statistical"]
    weighted = _pulumi_yaml(
        tmp_path / "W.yaml",
        '  detectorWeights: {type: string, default: \'{"statistical": 0.75, "lstm": 0.25}\'}\n',
    )
    cfg = evaluate.stack_config(weighted)
    assert cfg.weights == {"statistical": 0.75, "lstm": 0.25}
    spec = evaluate.parse_name("default", cfg)
    assert spec.mode == "weighted" and spec.weights == (0.75, 0.25) and spec.threshold == 0.61


def test_the_real_pulumi_yaml_names_known_detectors() -> None:
    cfg = evaluate.stack_config()
    known = set(evaluate.plugins.all_detectors())
    assert cfg.detectors and set(cfg.detectors) <= known
    assert 0 < cfg.threshold <= 1


def test_names_single_max_weighted_fitted() -> None:
    assert evaluate.parse_name("statistical").mode == "single"
    assert evaluate.parse_name("a+b").mode == "max"
    fixed = evaluate.parse_name("0.7*a+0.3*b")
    assert fixed.mode == "weighted" and fixed.members == ["a", "b"] and fixed.weights == (0.7, 0.3)
    fitted = evaluate.parse_name("w:a+b")
    assert fitted.mode == "fitted" and fitted.members == ["a", "b"]
    scores = {"a": np.array([0.2, 1.0]), "b": np.array([0.6, 0.0])}
    # the runtime's weighted maximum (detectorWeights): max(0.7 * 0.2, 0.3 * 0.6), max(0.7 * 1, 0.3 * 0)
    assert evaluate.spec_scores(fixed, scores).tolist() == pytest.approx([0.18, 0.7])
    assert evaluate.spec_scores(evaluate.parse_name("a+b"), scores).tolist() == [0.6, 1.0]


def test_default_is_scored_at_the_stack_threshold_too(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    stack = evaluate.StackConfig(["r1", "r2"], 0.5)
    dets = {"r1": Recorder("r1", 0.3), "r2": Recorder("r2", 0.7)}
    out = evaluate.evaluate(corpus, ["default"], progress=False, stack=stack, detectors=dets, cv=2)
    entry = out["detectors"]["default"]
    assert entry["members"] == ["r1", "r2"] and entry["combine"] == "max"
    at = entry["at_stack_threshold"]
    assert at["threshold"] == 0.5
    # the max (0.7) is >= 0.5 on every row: every window found at its first row, every other row a false positive
    rows = [nab.row_weights(f.timestamps, f.windows) for f in nab.read_corpus(corpus)]
    expected = sum(nab.raw_at(np.full(1400, 0.7), w, "standard", 0.5) for w in rows)
    assert at["standard"]["raw"] == pytest.approx(round(expected, 4))
    assert "cv" in entry and "standard" in entry


def test_fitted_weights_are_reported_and_cross_validated(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    dets = {"a": Recorder("a", 0.3), "b": Recorder("b", 0.7)}
    out = evaluate.evaluate(corpus, ["w:a+b"], progress=False, detectors=dets, cv=2)
    entry = out["detectors"]["w:a+b"]
    assert set(entry["weights"]) == {"a", "b"} and abs(sum(entry["weights"].values()) - 1) < 1e-9
    assert set(entry["weights_by_profile"]) == set(nab.PROFILES)
    assert set(entry["by_category"]["realThing"]) >= {"files", "windows", *nab.PROFILES}
    assert all(len(f["weights"]) == 2 for f in entry["cv"]["standard"]["folds"])


def test_code_defaults_are_what_pulumi_yaml_deploys() -> None:
    """`iops local` and a Lambda without the variables run exactly the stack's default detectors and threshold."""
    from detectors import plugins
    from iops.settings import DEFAULT_ANOMALY_THRESHOLD

    deployed = evaluate.stack_config()
    assert deployed.detectors == list(plugins.DEFAULT_DETECTORS)
    assert deployed.threshold == DEFAULT_ANOMALY_THRESHOLD
