"""``iops train``: generate data, export real history, train here, launch on SageMaker, deploy.

Regenerate the shipped default model (what the ``model`` make target runs)::

    make corpus                                   # build/gencorpus, the generated NAB-layout corpus
    iops train generate --out build/ml-data/generated
    iops train local --data build/ml-data/generated --data ../shared/nab --data build/gencorpus \
        --model-dir build/ml-model --ship
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent.parent / "detectors" / "models" / "lstm-default"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="generate data, train the LSTM locally or on SageMaker, deploy it")
    tsub = p.add_subparsers(dest="train_command", required=True, metavar="STEP")

    g = tsub.add_parser("generate", help="write a labelled synthetic multi-host history")
    g.add_argument("--out", required=True, type=Path)
    g.add_argument("--hosts", type=int, default=8)
    g.add_argument("--days", type=float, default=14.0)
    g.add_argument("--seed", type=int, default=7)
    g.set_defaults(func=run_generate)

    e = tsub.add_parser("export", help="export history from a deployed Metrics table (paginated Query)")
    e.add_argument("--table", required=True)
    e.add_argument("--host", action="append", dest="hosts", required=True, help="repeat for each host")
    e.add_argument("--out", required=True, type=Path)
    e.add_argument("--since-ms", type=int, help="only items with timestamp >= this (epoch ms)")
    e.add_argument("--region")
    e.set_defaults(func=run_export)

    loc = tsub.add_parser("local", help="train here (needs the 'train' extra: torch)")
    loc.add_argument(
        "--data",
        required=True,
        type=Path,
        action="append",
        help="data directory: host CSVs (iops train generate) or a NAB-layout corpus; repeat for several",
    )
    loc.add_argument(
        "--exclude-category",
        action="append",
        default=[],
        help="leave this category (NAB folder, or 'generated') out of training; repeat for several",
    )
    loc.add_argument("--model-dir", required=True, type=Path)
    loc.add_argument("--ship", action="store_true", help=f"also copy the artifact to {SHIPPED}.{{npz,json}}")
    loc.add_argument("--epochs", type=int)
    loc.add_argument("--hidden", type=int)
    loc.add_argument("--window", type=int)
    loc.add_argument("--seed", type=int)
    loc.set_defaults(func=run_local)

    c = tsub.add_parser("cv", help="cross-validate the LSTM on a corpus it trains on: one model per left-out category")
    c.add_argument("--data", required=True, type=Path, action="append", help="training data (repeat); as for local")
    c.add_argument("--corpus", required=True, type=Path, help="NAB-layout corpus to score (one of the --data)")
    c.add_argument("--out", required=True, type=Path, help="fold models and cv.json go here")
    c.add_argument("--with", dest="others", action="append", default=None, help="also score D and D+lstm")
    c.add_argument("--epochs", type=int)
    c.add_argument("--seed", type=int)
    c.set_defaults(func=run_cv)

    la = tsub.add_parser("launch", help="run the training script as a SageMaker training job")
    la.add_argument("--data", required=True, type=Path, help="local data directory to upload")
    la.add_argument("--bucket", required=True, help="the stack's ML bucket (stack output mlBucket)")
    la.add_argument("--role-arn", required=True, help="the stack's SageMaker role (stack output sagemakerRoleArn)")
    la.add_argument("--region", required=True)
    la.add_argument("--instance-type", default="ml.m5.xlarge")
    la.add_argument("--max-runtime", type=int, default=3600, help="seconds before SageMaker stops the job")
    la.add_argument("--epochs", type=int)
    la.add_argument("--no-wait", action="store_true")
    la.set_defaults(func=run_launch)

    d = tsub.add_parser("deploy", help="point the stack at a model artifact, or create/update an endpoint")
    d.add_argument("--model-data", required=True, help="s3://.../model.tar.gz (printed by launch)")
    d.add_argument("--stack", help="Pulumi stack to configure (default: the selected one)")
    d.add_argument("--endpoint", help="create/update this endpoint directly instead of setting stack config")
    d.add_argument("--role-arn")
    d.add_argument("--region")
    d.add_argument("--instance-type", default="ml.t2.medium")
    d.set_defaults(func=run_deploy)


def run_generate(args: argparse.Namespace) -> int:
    from training.data import GeneratorConfig, generate

    manifest = generate(args.out, GeneratorConfig(hosts=args.hosts, days=args.days, seed=args.seed))
    print(f"wrote {manifest['points']} points ({manifest['anomalous_points']} anomalous) for {manifest['hosts']} hosts")
    return 0


def run_export(args: argparse.Namespace) -> int:
    import boto3

    from training.data import export_metrics_table

    table = boto3.resource("dynamodb", region_name=args.region).Table(args.table)
    manifest = export_metrics_table(
        table, args.out, args.hosts, args.since_ms, progress=lambda h, n: print(f"{h}: {n} values", file=sys.stderr)
    )
    print(f"exported {manifest['points']} values for {manifest['hosts']} hosts to {args.out}")
    return 0


def run_local(args: argparse.Namespace) -> int:
    try:
        from training.train import Hyperparameters, train
    except ImportError as exc:
        print(f"local training needs torch: pip install -e '.[train]' ({exc})", file=sys.stderr)
        return 2
    overrides = {k: getattr(args, k) for k in ("epochs", "hidden", "window", "seed") if getattr(args, k) is not None}
    if args.exclude_category:
        overrides["exclude_categories"] = ",".join(args.exclude_category)
    meta = train(args.data, args.model_dir, Hyperparameters(**overrides), log=lambda line: print(line, flush=True))
    if args.ship:
        SHIPPED.parent.mkdir(parents=True, exist_ok=True)
        for suffix in (".npz", ".json"):
            shutil.copy2(args.model_dir / f"model{suffix}", SHIPPED.with_suffix(suffix))
        print(f"shipped as {SHIPPED}.npz/.json")
    print(json.dumps({k: meta["training"][k] for k in ("epochs_run", "best_val_loss", "seconds")}))
    return 0


def run_cv(args: argparse.Namespace) -> int:
    try:
        from training.cv import cross_validate_lstm
        from training.train import Hyperparameters
    except ImportError as exc:
        print(f"cross-validation trains models and needs torch: pip install -e '.[train]' ({exc})", file=sys.stderr)
        return 2
    overrides = {k: getattr(args, k) for k in ("epochs", "seed") if getattr(args, k) is not None}
    others = args.others if args.others is not None else ["statistical"]
    out = cross_validate_lstm(
        args.data, args.corpus, args.out, Hyperparameters(**overrides), others, log=lambda line: print(line, flush=True)
    )
    for name, entry in out["detectors"].items():
        print(f"{name:24s} " + "  ".join(f"{p} {v['score']}" for p, v in entry["cv"].items()))
    print(f"wrote {args.out / 'cv.json'}")
    return 0


def run_launch(args: argparse.Namespace) -> int:
    from training.launch import LaunchRequest, launch

    hp = {"epochs": args.epochs} if args.epochs else {}
    req = LaunchRequest(
        args.data, args.bucket, args.role_arn, args.region, args.instance_type, args.max_runtime, hyperparameters=hp
    )
    desc = launch(req, wait=not args.no_wait)
    if not args.no_wait:
        print(desc["ModelArtifacts"]["S3ModelArtifacts"])
    return 0


def run_deploy(args: argparse.Namespace) -> int:
    from training.launch import deploy_endpoint, pytorch_image, set_stack_config

    if not args.endpoint:
        set_stack_config(args.model_data, args.stack)
        print("stack config set; run `pulumi up` to create or update the endpoint")
        return 0
    if not (args.role_arn and args.region):
        print("--endpoint needs --role-arn and --region", file=sys.stderr)
        return 2
    import boto3

    sm = boto3.client("sagemaker", region_name=args.region)
    image = pytorch_image(args.region, "inference", args.instance_type)
    result = deploy_endpoint(sm, args.endpoint, args.model_data, args.role_arn, image, args.instance_type)
    print(json.dumps(result))
    return 0
