"""Training pipeline: generator, script-mode training, export from DynamoDB, launch and deploy requests."""

from __future__ import annotations

import csv
import json
import os
import stat
import time
from decimal import Decimal
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber
from iops_detector_sdk.contract import Point, SeriesKey
from moto import mock_aws

from cli.main import main as iops
from detectors.lstm import LstmDetector
from training import inference
from training.data import ANOMALY_KINDS, GeneratorConfig, export_metrics_table, generate, generate_series
from training.launch import LaunchRequest, deploy_endpoint, launch, set_stack_config

ROLE = "arn:aws:iam::123456789012:role/iops-dev-sagemaker"
TINY = GeneratorConfig(hosts=2, days=3, seed=3, anomalies_per_series=6)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    generate(out, TINY)
    return out


@pytest.fixture(scope="module")
def tiny_model(tiny_data: Path, tmp_path_factory) -> tuple[Path, float]:
    """Train the way a SageMaker job does: paths from SM_* variables, hyperparameters as flags."""
    pytest.importorskip("torch")
    from training import train

    model_dir = tmp_path_factory.mktemp("model")
    env = {"SM_CHANNEL_TRAINING": str(tiny_data), "SM_MODEL_DIR": str(model_dir)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        started = time.perf_counter()
        flags = ["--epochs", "3", "--hidden", "8", "--window", "24", "--max_train_windows", "4000", "--warmup", "30"]
        assert train.main(flags) == 0
        seconds = time.perf_counter() - started
    finally:
        for k, v in old.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v
    return model_dir, seconds


def test_generator_is_deterministic_and_labels_every_kind() -> None:
    config = GeneratorConfig(hosts=3, days=4, seed=11, anomalies_per_series=8)
    a, b = list(generate_series(config)), list(generate_series(config))
    assert all(np.array_equal(x.values, y.values) for x, y in zip(a, b, strict=True))
    kinds = {k for s in a for k in s.kinds if k}
    assert kinds == set(ANOMALY_KINDS)
    expected = int(4 * 86_400 / 300)
    assert all(len(s.values) < expected for s in a)  # missing points
    cpu = np.concatenate([s.values for s in a if s.metric == "cpuUsage"])
    assert cpu.min() >= 0 and cpu.max() <= 100
    assert all(np.all(np.diff(s.timestamps) > 0) for s in a)


def test_generated_files_are_long_format_csv_with_manifest(tiny_data: Path) -> None:
    manifest = json.loads((tiny_data / "manifest.json").read_text())
    with (tiny_data / "host-00.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["timestamp", "metric", "value", "label", "kind"]
    total = 0
    for path in tiny_data.glob("*.csv"):
        with path.open() as fh:
            total += sum(1 for _ in csv.DictReader(fh))
    assert manifest["points"] == total and manifest["hosts"] == TINY.hosts
    assert {r["label"] for r in rows} == {"0", "1"}


def test_script_mode_training_is_quick_and_the_detector_loads_it(tiny_model: tuple[Path, float]) -> None:
    model_dir, seconds = tiny_model
    assert seconds < 60
    meta = json.loads((model_dir / "model.json").read_text())
    assert meta["window"] == 24 and meta["hidden"] == 8 and meta["schema_version"] == 2
    assert 1 <= meta["training"]["epochs_run"] <= 3
    assert meta["training"]["data"]["series_by_category"] == {"generated": TINY.hosts * 4}
    det = LstmDetector(model_path=model_dir / "model")
    series = SeriesKey("h", "cpuUsage")
    rng = np.random.default_rng(0)
    values = 40 + rng.normal(0, 1, 200)
    values[150] += 30
    scores = det.score(series, det.new_state(series), [Point(float(i), float(v)) for i, v in enumerate(values)])
    assert scores[150] == max(scores) and scores[150] > 0.5
    assert sorted(p.name for p in (model_dir / "code").iterdir()) == ["envelope.py", "inference.py", "lstm_model.py"]
    assert inference.model_fn(str(model_dir)).window == 24


def _nab_layout(root: Path) -> Path:
    """A two-category NAB-layout corpus, one file and one labelled window each."""
    for cat, name in (("realA", "a.csv"), ("artB", "b.csv")):
        (root / "data" / cat).mkdir(parents=True)
        stamps = [f"2014-01-01 {h:02d}:{m:02d}:00" for h in range(10) for m in range(0, 60, 5)]
        rows = ["timestamp,value"] + [f"{t},{float(i % 7)}" for i, t in enumerate(stamps)]
        (root / "data" / cat / name).write_text("\n".join(rows) + "\n")
    (root / "labels").mkdir()
    windows = {
        "realA/a.csv": [["2014-01-01 02:00:00.000000", "2014-01-01 03:00:00.000000"]],
        "artB/b.csv": [["2014-01-01 07:00:00.000000", "2014-01-01 07:30:00.000000"]],
    }
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    return root


def test_training_reads_host_csvs_and_nab_layout_corpora_from_one_channel(tiny_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from training.train import read_series

    nab = _nab_layout(tmp_path / "nab")
    series = read_series(nab)
    assert sorted(s.category for s in series) == ["artB", "realA"]
    real = next(s for s in series if s.category == "realA")
    assert len(real.values) == 120 and int(real.labels.sum()) == 13  # 02:00..03:00 inclusive, 5-minute rows
    assert [s.category for s in read_series(nab, exclude_categories=("realA",))] == ["artB"]
    # a SageMaker channel holding several corpora in subdirectories
    channel = tmp_path / "channel"
    channel.mkdir()
    (channel / "generated").symlink_to(tiny_data, target_is_directory=True)
    (channel / "nab").symlink_to(nab, target_is_directory=True)
    mixed = read_series(channel)
    assert {s.category for s in mixed} == {"generated", "realA", "artB"}
    assert sum(s.category == "generated" for s in mixed) == TINY.hosts * 4


def test_cv_trains_one_model_per_left_out_category_and_scores_only_that_category(
    tiny_data: Path, tmp_path: Path
) -> None:
    pytest.importorskip("torch")
    from training.cv import cross_validate_lstm
    from training.train import Hyperparameters

    nab = _nab_layout(tmp_path / "nab")
    hp = Hyperparameters(window=24, hidden=8, epochs=1, max_train_windows=2000, warmup=30)
    out = cross_validate_lstm([tiny_data, nab], nab, tmp_path / "cv", hp, others=(), log=lambda _line: None)
    assert out["method"] == "leave-one-category-out"
    assert [f["excluded"] for f in out["folds"]] == [["artB"], ["realA"]]
    for fold in out["folds"]:
        assert fold["fold"] not in fold["series_by_category"] and fold["series_by_category"]["generated"] == 8
    assert set(out["detectors"]) == {"lstm"} and set(out["detectors"]["lstm"]["cv"]) == {
        "standard",
        "reward_low_FP_rate",
        "reward_low_FN_rate",
    }
    assert json.loads((tmp_path / "cv" / "cv.json").read_text()) == out
    assert (tmp_path / "cv" / "realA" / "model.npz").exists()


def test_export_reads_the_metrics_table_page_by_page(tmp_path: Path) -> None:
    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        table = ddb.create_table(
            TableName="iops-dev-metrics",
            KeySchema=[
                {"AttributeName": "hostname", "KeyType": "HASH"},
                {"AttributeName": "timestamp", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "hostname", "AttributeType": "S"},
                {"AttributeName": "timestamp", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for i in range(25):
            for host in ("web-1", "web-2"):
                table.put_item(
                    Item={
                        "hostname": host,
                        "timestamp": 1_767_225_600_000 + 60_000 * i,
                        "cpuUsage": Decimal(str(10 + i)),
                        "memoryUsage": Decimal("50.5"),
                        "ttl": 1_800_000_000,
                        "source": "agent",
                    }
                )
        pages: list[tuple[str, int]] = []
        manifest = export_metrics_table(
            table,
            tmp_path,
            ["web-1"],
            since_ms=1_767_225_600_000 + 60_000 * 5,
            progress=lambda h, n: pages.append((h, n)),
            page_size=8,
        )
    assert manifest["points"] == 40  # 20 items x 2 numeric metrics; ttl and strings skipped
    assert pages == [("web-1", 16), ("web-1", 32), ("web-1", 40)]  # 8 items a page
    with (tmp_path / "web-1.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0] == {"timestamp": "1767225900", "metric": "cpuUsage", "value": "15", "label": "0", "kind": ""}
    assert {r["metric"] for r in rows} == {"cpuUsage", "memoryUsage"}


def test_launch_sends_the_expected_training_job(tiny_data: Path, monkeypatch) -> None:
    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")  # moto has no iam:SimulatePrincipalPolicy
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        session.client("s3").create_bucket(Bucket="iops-dev-ml")
        sent: list[dict] = []
        session.events.register(
            "provide-client-params.sagemaker.CreateTrainingJob", lambda params, **_: sent.append(dict(params))
        )
        lines: list[str] = []
        req = LaunchRequest(tiny_data, "iops-dev-ml", ROLE, "us-east-1", hyperparameters={"epochs": 5})
        desc = launch(req, boto_session=session, poll_s=0, progress=lines.append)
        keys = [o["Key"] for o in session.client("s3").list_objects_v2(Bucket="iops-dev-ml")["Contents"]]
    assert len(sent) == 1
    job = sent[0]
    assert job["AlgorithmSpecification"]["TrainingImage"] == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-cpu-py311"
    )
    assert job["ResourceConfig"] == {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10}
    assert job["RoleArn"] == ROLE
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert job["OutputDataConfig"]["S3OutputPath"] == "s3://iops-dev-ml/models/"
    assert job["HyperParameters"] == {"epochs": "5"}
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]}
    assert set(channels) == {"training", "code", "sm_drivers"}
    assert channels["training"].startswith("s3://iops-dev-ml/data/")
    assert all(uri.startswith("s3://iops-dev-ml/") for uri in channels.values())  # nothing in a default bucket
    code_keys = sorted(k.rsplit("/", 1)[1] for k in keys if "/input/code/" in k)
    assert code_keys == ["envelope.py", "inference.py", "lstm_model.py", "train.py"]
    assert sum(k.startswith("data/") for k in keys) == 3  # two host CSVs and the manifest
    assert desc["ModelArtifacts"]["S3ModelArtifacts"].startswith("s3://iops-dev-ml/models/")
    assert any("Completed" in line for line in lines) and lines[-1].startswith("model artifact: s3://")


@pytest.mark.parametrize("exists", [False, True])
def test_deploy_creates_or_updates_the_endpoint(exists: bool) -> None:
    sm = boto3.client("sagemaker", region_name="us-east-1")
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.5-cpu-py311"
    data = "s3://iops-dev-ml/models/job/output/model.tar.gz"
    with Stubber(sm) as stub:
        stub.add_response(
            "create_model",
            {"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/iops-lstm-1"},
            {
                "ModelName": "iops-lstm-1",
                "ExecutionRoleArn": ROLE,
                "PrimaryContainer": {
                    "Image": image,
                    "ModelDataUrl": data,
                    "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
                },
            },
        )
        stub.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/iops-lstm-1"},
            {
                "EndpointConfigName": "iops-lstm-1",
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": "iops-lstm-1",
                        "InitialInstanceCount": 1,
                        "InstanceType": "ml.t2.medium",
                    }
                ],
            },
        )
        if exists:
            stub.add_response(
                "describe_endpoint",
                {
                    "EndpointName": "iops-lstm",
                    "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/iops-lstm",
                    "EndpointConfigName": "old",
                    "EndpointStatus": "InService",
                    "CreationTime": "2026-01-01T00:00:00Z",
                    "LastModifiedTime": "2026-01-01T00:00:00Z",
                },
                {"EndpointName": "iops-lstm"},
            )
        else:
            stub.add_client_error(
                "describe_endpoint", "ValidationException", 'Could not find endpoint "iops-lstm".', 400
            )
        action = "update_endpoint" if exists else "create_endpoint"
        stub.add_response(
            action,
            {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/iops-lstm"},
            {"EndpointName": "iops-lstm", "EndpointConfigName": "iops-lstm-1"},
        )
        result = deploy_endpoint(sm, "iops-lstm", data, ROLE, image, stamp="1")
        stub.assert_no_pending_responses()
    assert result["action"] == ("updated" if exists else "created")


def test_deploy_via_stack_config_runs_pulumi_config_set(tmp_path: Path, monkeypatch) -> None:
    log = tmp_path / "calls.txt"
    fake = tmp_path / "pulumi"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    set_stack_config("s3://b/models/j/output/model.tar.gz", "dev")
    assert log.read_text().splitlines() == [
        "config set --stack dev sagemakerModelDataUrl s3://b/models/j/output/model.tar.gz",
        "config set --stack dev sagemakerEndpointEnabled true",
    ]


def test_cli_generate_writes_a_channel(tmp_path: Path, capsys) -> None:
    assert iops(["train", "generate", "--out", str(tmp_path), "--hosts", "1", "--days", "1"]) == 0
    assert (tmp_path / "host-00.csv").exists() and (tmp_path / "manifest.json").exists()
    assert "wrote" in capsys.readouterr().out
