"""Run the Pulumi program (or one component) under `pulumi.runtime.set_mocks` and record the graph.

Usage::

    graph = run_program("dev", {"sagemakerEndpointEnabled": "true"})
    fn = graph.one("aws:lambda/function:Function", "ingest")
    assert fn.inputs["memorySize"] == 512

Mock inputs use Pulumi's camelCase names; outputs such as ``arn``, ``invokeArn`` and
``streamArn`` are fabricated from the resource name.
"""

from __future__ import annotations

import json
import os
import runpy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "iops-dashboard"
ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass
class Rec:
    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    provider: str = ""
    """The explicit provider's reference (``urn::id``), empty for the default provider."""

    def json_input(self, key: str) -> Any:
        value = self.inputs[key]
        return json.loads(value) if isinstance(value, str) else value


@dataclass
class Graph:
    resources: list[Rec] = field(default_factory=list)
    namespace: dict[str, Any] = field(default_factory=dict)
    """The program's module globals (e.g. ``cfg``), when a whole program ran."""

    def of_type(self, type_: str) -> list[Rec]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name_part: str) -> Rec:
        found = [r for r in self.of_type(type_) if name_part in r.name]
        if len(found) != 1:
            raise AssertionError(f"expected one {type_} named *{name_part}*, found {[r.name for r in found]}")
        return found[0]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.resources:
            out[r.type] = out.get(r.type, 0) + 1
        return dict(sorted(out.items()))

    def by_urn_name(self, name: str) -> Rec:
        return next(r for r in self.resources if r.name == name)


def _fabricate(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    out = dict(inputs)
    physical = inputs.get("name") or name
    service = type_.split(":")[1].split("/")[0]
    out.setdefault("arn", f"arn:aws:{service}:{REGION}:{ACCOUNT}:{physical}")
    if type_ == "aws:lambda/function:Function":
        out["invokeArn"] = f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{out['arn']}/invocations"
    elif type_ == "aws:dynamodb/table:Table":
        out["arn"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{physical}"
        if inputs.get("streamEnabled"):
            out["streamArn"] = f"{out['arn']}/stream/2026-01-01T00:00:00.000"
    elif type_ == "aws:apigateway/restApi:RestApi":
        out["rootResourceId"] = f"{name}-root"
        out["executionArn"] = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{name}-id"
    elif type_ == "aws:apigateway/stage:Stage":
        out["invokeUrl"] = f"https://{name}.execute-api.{REGION}.amazonaws.com/{inputs.get('stageName', 'v1')}"
    elif type_ == "aws:apigateway/apiKey:ApiKey":
        out["value"] = "mock-api-key-value"
    elif type_ == "aws:sqs/queue:Queue":
        out["url"] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical}"
        out["arn"] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{physical}"
    elif type_ == "aws:s3/bucket:Bucket" or type_ == "aws:s3/bucketV2:BucketV2":
        bucket = inputs.get("bucket") or (f"{inputs['bucketPrefix']}abc123" if "bucketPrefix" in inputs else physical)
        out.setdefault("bucket", bucket)
        out["arn"] = f"arn:aws:s3:::{bucket}"
        out["bucketRegionalDomainName"] = f"{bucket}.s3.{REGION}.amazonaws.com"
    elif type_ == "aws:cloudfront/distribution:Distribution":
        out["domainName"] = f"{name}.cloudfront.net"
    elif type_ == "aws:sns/topic:Topic":
        out["arn"] = f"arn:aws:sns:{REGION}:{ACCOUNT}:{physical}"
    elif type_ == "aws:cloudwatch/eventBus:EventBus":
        out["arn"] = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{physical}"
    elif type_ == "aws:cloudwatch/eventRule:EventRule":
        out["arn"] = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{inputs.get('eventBusName', 'default')}/{physical}"
    elif type_ == "aws:kms/key:Key":
        out["keyId"] = f"{name}-key-id"
    elif type_ == "aws:kinesis/stream:Stream":
        out["arn"] = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{physical}"
    elif type_ == "random:index/randomPassword:RandomPassword":
        out["result"] = f"mock-secret-of-{name}".ljust(int(inputs.get("length", 16)), "x")
    return out


class Recorder(pulumi.runtime.Mocks):
    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        outputs = _fabricate(args.typ, args.name, dict(args.inputs))
        self.graph.resources.append(Rec(args.typ, args.name, dict(args.inputs), outputs, args.provider or ""))
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/test", "userId": "test"}
        if args.token in ("aws:index/getRegion:getRegion",):
            return {"name": REGION, "region": REGION, "id": REGION}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}
        return {}


def stack_config(stack: str, overrides: dict[str, Any] | None = None) -> dict[str, str]:
    """``Pulumi.<stack>.yaml`` as the engine would pass it: namespaced keys, strings or JSON."""
    path = ROOT / f"Pulumi.{stack}.yaml"
    raw = (yaml.safe_load(path.read_text()) or {}).get("config", {}) if path.exists() else {}
    merged = dict(raw)
    for key, value in (overrides or {}).items():
        merged[key if ":" in key else f"{PROJECT}:{key}"] = value
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in merged.items()}


def run(program: Callable[[], Any], stack: str = "dev", overrides: dict[str, Any] | None = None) -> Graph:
    """Run ``program`` under mocks with the stack's config; returns every resource it registered."""
    os.environ.setdefault("IOPS_ARTIFACT_DEPS", "0")
    graph = Graph()
    pulumi.runtime.set_mocks(Recorder(graph), project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_all_config(stack_config(stack, overrides))

    @pulumi.runtime.test
    def _run() -> None:
        program()

    _run()
    return graph


def run_program(stack: str = "dev", overrides: dict[str, Any] | None = None) -> Graph:
    """The whole `__main__.py`, as `pulumi up` would run it."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        namespace: dict[str, Any] = {}

        def program() -> None:
            namespace.update(runpy.run_path(str(ROOT / "__main__.py")))

        result = run(program, stack, overrides)
        result.namespace = namespace
        return result
    finally:
        os.chdir(cwd)
