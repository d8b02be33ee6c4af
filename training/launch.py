"""Launch the training script as a SageMaker training job, and deploy what it produced.

`launch` uploads a data directory to the stack's ML bucket, stages the job's source directory
(``train.py``, ``inference.py``, ``lstm_model.py``: the same files local training runs), starts a
job through the ``sagemaker`` 3.x ``ModelTrainer`` with the PyTorch CPU training image, then polls
``DescribeTrainingJob`` itself so status changes stream to the caller and tests can fake them.

`deploy` either records the artifact in the Pulumi stack config (``sagemakerModelDataUrl``, so the
ML tier's Model/EndpointConfig/Endpoint pick it up on the next ``pulumi up``) or creates/updates
an endpoint directly with boto3 for stacks that do not manage one.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from detectors import lstm_model

TRAINING_DIR = Path(__file__).resolve().parent
FRAMEWORK_VERSION = "2.5"
PY_VERSION = "py311"
DEFAULT_TRAINING_INSTANCE = "ml.m5.xlarge"
DEFAULT_ENDPOINT_INSTANCE = "ml.t2.medium"
TERMINAL = ("Completed", "Failed", "Stopped")


def pytorch_image(region: str, scope: str, instance_type: str) -> str:
    """The AWS PyTorch CPU image URI (``scope`` is ``training`` or ``inference``), resolved offline."""
    from sagemaker.core import image_uris

    return image_uris.retrieve(
        "pytorch",
        region=region,
        version=FRAMEWORK_VERSION,
        py_version=PY_VERSION,
        instance_type=instance_type,
        image_scope=scope,
    )


@dataclass(slots=True)
class LaunchRequest:
    """Where the job reads, writes and runs; hyperparameters go to ``train.py`` as flags."""

    data_dir: Path
    bucket: str
    role_arn: str
    region: str
    instance_type: str = DEFAULT_TRAINING_INSTANCE
    max_runtime_s: int = 3600
    base_job_name: str = "iops-lstm"
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    image_uri: str | None = None


def stage_source(dest: Path) -> Path:
    """The job's source directory: exactly the files the script needs, flat."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("train.py", "inference.py"):
        shutil.copy2(TRAINING_DIR / name, dest / name)
    for name in lstm_model.FLAT_MODULES:
        shutil.copy2(Path(lstm_model.__file__).with_name(name), dest / name)
    return dest


def upload_dir(s3: Any, local: Path, bucket: str, prefix: str, progress: Callable[[str], None]) -> str:
    """Upload every file under ``local`` to ``s3://bucket/prefix/``; returns that URI."""
    files = sorted(p for p in local.rglob("*") if p.is_file())
    for i, path in enumerate(files, 1):
        s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(local).as_posix()}")
        progress(f"uploaded {i}/{len(files)}: {path.name}")
    if not files:
        raise FileNotFoundError(f"nothing to upload in {local}")
    return f"s3://{bucket}/{prefix}/"


def launch(
    req: LaunchRequest,
    boto_session: boto3.Session | None = None,
    wait: bool = True,
    poll_s: float = 30.0,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Start the training job; with ``wait``, stream status until it ends. Returns the last description."""
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.training.configs import (
        Compute,
        InputData,
        OutputDataConfig,
        SourceCode,
        StoppingCondition,
    )
    from sagemaker.train import ModelTrainer

    boto_session = boto_session or boto3.Session(region_name=req.region)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    data_uri = upload_dir(boto_session.client("s3"), req.data_dir, req.bucket, f"data/{stamp}", progress)
    session = Session(boto_session=boto_session, default_bucket=req.bucket, default_bucket_prefix="jobs")
    with tempfile.TemporaryDirectory() as tmp:
        trainer = ModelTrainer(
            sagemaker_session=session,
            role=req.role_arn,
            base_job_name=req.base_job_name,
            training_image=req.image_uri or pytorch_image(req.region, "training", req.instance_type),
            source_code=SourceCode(source_dir=str(stage_source(Path(tmp) / "src")), entry_script="train.py"),
            compute=Compute(instance_type=req.instance_type, instance_count=1, volume_size_in_gb=10),
            stopping_condition=StoppingCondition(max_runtime_in_seconds=req.max_runtime_s),
            output_data_config=OutputDataConfig(s3_output_path=f"s3://{req.bucket}/models/"),
            hyperparameters=dict(req.hyperparameters),
        )
        trainer.train(input_data_config=[InputData(channel_name="training", data_source=data_uri)], wait=False)
    job_name = trainer._latest_training_job.training_job_name  # the SDK has no public accessor (3.27)
    progress(f"started training job {job_name} (data {data_uri})")
    sm = boto_session.client("sagemaker")
    return wait_for_job(sm, job_name, poll_s, progress) if wait else sm.describe_training_job(TrainingJobName=job_name)


def wait_for_job(sm: Any, job_name: str, poll_s: float, progress: Callable[[str], None]) -> dict[str, Any]:
    """Poll until the job ends, printing each new status; raises if it did not complete."""
    last = None
    while True:
        desc = sm.describe_training_job(TrainingJobName=job_name)
        status = (desc["TrainingJobStatus"], desc.get("SecondaryStatus"))
        if status != last:
            progress(f"{job_name}: {status[0]} / {status[1]}")
            last = status
        if status[0] in TERMINAL:
            break
        time.sleep(poll_s)
    if status[0] != "Completed":
        raise RuntimeError(f"training job {job_name} {status[0]}: {desc.get('FailureReason', 'no reason given')}")
    progress(f"model artifact: {desc['ModelArtifacts']['S3ModelArtifacts']}")
    return desc


def set_stack_config(model_data_url: str, stack: str | None, cwd: Path | None = None) -> list[list[str]]:
    """Point the stack at the artifact via ``pulumi config set`` (takes effect on ``pulumi up``)."""
    base = ["pulumi", "config", "set"] + (["--stack", stack] if stack else [])
    commands = [base + ["sagemakerModelDataUrl", model_data_url], base + ["sagemakerEndpointEnabled", "true"]]
    for cmd in commands:
        subprocess.run(cmd, check=True, cwd=cwd)
    return commands


def deploy_endpoint(
    sm: Any,
    endpoint_name: str,
    model_data_url: str,
    role_arn: str,
    image_uri: str,
    instance_type: str = DEFAULT_ENDPOINT_INSTANCE,
    stamp: str | None = None,
) -> dict[str, str]:
    """Create a Model and EndpointConfig for the artifact, then create or update ``endpoint_name``."""
    stamp = stamp or time.strftime("%Y%m%d%H%M%S", time.gmtime())
    model_name = f"{endpoint_name}-{stamp}"
    sm.create_model(
        ModelName=model_name,
        ExecutionRoleArn=role_arn,
        PrimaryContainer={
            "Image": image_uri,
            "ModelDataUrl": model_data_url,
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName=model_name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model_name,
                "InitialInstanceCount": 1,
                "InstanceType": instance_type,
            }
        ],
    )
    try:
        sm.describe_endpoint(EndpointName=endpoint_name)
        exists = True
    except sm.exceptions.ClientError as exc:
        if "Could not find" not in str(exc) and "not found" not in str(exc):
            raise
        exists = False
    action = sm.update_endpoint if exists else sm.create_endpoint
    action(EndpointName=endpoint_name, EndpointConfigName=model_name)
    return {"endpoint": endpoint_name, "model": model_name, "action": "updated" if exists else "created"}
