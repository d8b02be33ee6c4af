"""How the components are put together: complete at construction, grants from the one access
description, one trust-policy shape, the API from ROUTES, and aliases where resources moved."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pulumi.runtime import mocks

from components.api import RestApi, RestApiArgs
from components.iam import assume_role_policy
from handlers.definitions import TABLE_ACCESS, table_access
from tests.infra.harness import Graph, run, run_program

FN = "aws:lambda/function:Function"
TABLE = "aws:dynamodb/table:Table"


@contextmanager
def registrations() -> Iterator[dict[str, dict[str, Any]]]:
    """URN -> what the program told the engine about it: aliases, and whether it registered outputs."""
    seen: dict[str, dict[str, Any]] = {}
    register, register_outputs = mocks.MockMonitor.RegisterResource, mocks.MockMonitor.RegisterResourceOutputs

    def on_register(self, request):
        response = register(self, request)
        seen[response.urn] = {
            "custom": request.custom,
            "aliases": [a.spec.parentUrn for a in request.aliases if a.HasField("spec") and a.spec.parentUrn],
            "outputs": False,
        }
        return response

    def on_outputs(self, request):
        seen.setdefault(request.urn, {})["outputs"] = True
        return register_outputs(self, request)

    mocks.MockMonitor.RegisterResource, mocks.MockMonitor.RegisterResourceOutputs = on_register, on_outputs
    try:
        yield seen
    finally:
        mocks.MockMonitor.RegisterResource, mocks.MockMonitor.RegisterResourceOutputs = register, register_outputs


@pytest.fixture(scope="module")
def recorded() -> tuple[Graph, dict[str, dict[str, Any]]]:
    with registrations() as seen:
        graph = run_program("dev", {"streamingEnabled": "true"})
    return graph, seen


def test_every_component_registers_its_outputs(recorded) -> None:
    _, seen = recorded
    components = {urn: r for urn, r in seen.items() if r.get("custom") is False and "pulumi:pulumi:Stack::" not in urn}
    assert len(components) >= 12  # tiers, functions, the API, the bus policy, the site config
    assert [urn for urn, r in components.items() if not r["outputs"]] == []


def test_resources_that_moved_keep_an_alias_to_their_old_parent(recorded) -> None:
    """The API (with its children) left the ingest tier, the bus policy the alerting tier, config.json
    the site tier: without an alias a deployed stack would replace them (and deleting the old bus
    policy after creating the new one would leave the bus with none)."""
    _, seen = recorded

    def aliases(suffix: str) -> list[str]:
        (urn,) = [u for u in seen if u.endswith(suffix)]
        return seen[urn]["aliases"]

    assert aliases("iops:api:RestApi::ingest-rest") == [
        "urn:pulumi:dev::iops-dashboard::pulumi:pulumi:Stack$iops:ingest:IngestTier::ingest"
    ]
    assert aliases("aws:cloudwatch/eventBusPolicy:EventBusPolicy::alerting-bus-policy") == [
        "urn:pulumi:dev::iops-dashboard::pulumi:pulumi:Stack$iops:alerting:AlertingTier::alerting"
    ]
    assert aliases("aws:s3/bucketObjectv2:BucketObjectv2::site-config-json") == [
        "urn:pulumi:dev::iops-dashboard::pulumi:pulumi:Stack$iops:site:DashboardSiteTier::site"
    ]


def dynamodb_grants(graph: Graph, fn_name: str) -> list[tuple[tuple[str, ...], Any]]:
    policy = graph.one("aws:iam/rolePolicy:RolePolicy", f"{fn_name}-policy").json_input("policy")
    return [
        (tuple(s["Action"]), s["Resource"])
        for s in policy["Statement"]
        if any(a.startswith("dynamodb:") for a in s["Action"])
    ]


def test_each_function_is_granted_exactly_its_table_access(recorded) -> None:
    graph, _ = recorded
    tables = {t.inputs["name"].removeprefix("iops-dev-"): t.outputs for t in graph.of_type(TABLE)}
    resources = {fn.inputs["name"].removeprefix("iops-dev-"): fn.name.removesuffix("-fn") for fn in graph.of_type(FN)}
    for function, resource in resources.items():
        expected = []
        for access in table_access(function):
            table = tables[access.table.logical]
            if access.stream:
                where: Any = table["streamArn"]
            elif access.indexes:
                where = [table["arn"], f"{table['arn']}/index/*"]
            else:
                where = table["arn"]
            expected.append((tuple(f"dynamodb:{op}" for op in access.operations), where))
        assert dynamodb_grants(graph, resource) == expected, function
    assert {a.function for a in TABLE_ACCESS} <= set(resources)


def test_every_role_trusts_one_service_with_the_one_document_shape(recorded) -> None:
    graph, _ = recorded
    roles = graph.of_type("aws:iam/role:Role")
    assert len(roles) >= 7
    for role in roles:
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert role.inputs["assumeRolePolicy"] == assume_role_policy(statement["Principal"]["Service"]), role.name


def test_the_api_refuses_a_function_map_that_does_not_cover_the_routes() -> None:
    def program() -> None:
        RestApi(
            "rest",
            RestApiArgs(
                api_name="x",
                functions={},
                throttle_rate_limit=1,
                throttle_burst_limit=1,
                allowed_origins=["https://dashboard.example.com"],
                log_retention_days=1,
                user_pool_arn="arn:aws:cognito-idp:us-east-1:123456789012:userpool/p",
                writers=["w"],
                writer_rate_limit=1,
                writer_burst_limit=1,
                writer_quota_per_day=1,
            ),
        )

    with pytest.raises(Exception, match="route functions"):
        run(program)


def test_an_unknown_detector_fails_the_preview_naming_it() -> None:
    """A typo in ``detectors`` stops `pulumi preview`, not every AI batch after `pulumi up`."""
    with pytest.raises(Exception, match=r"statisticl is not a built-in detector \(built in: .*statistical"):
        run_program("dev", {"detectors": ["statisticl", "lstm"]})


def test_a_detector_from_extra_packages_is_checked_against_the_built_package(tmp_path, monkeypatch) -> None:
    """With its dependencies built, the package's plugins are asked what they register."""
    from components.plugin_check import check_detectors, packaged_detectors

    dist = tmp_path / "my_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[iops_dashboard]\nmine = my_plugin\n")
    (tmp_path / "my_plugin.py").write_text(
        "class D:\n    name = 'zscore'\n\n"
        "def register_detectors(register):\n    register(D())\n"
    )
    assert packaged_detectors(tmp_path) == {"zscore": "mine"}
    check_detectors(["statistical", "zscore"], ["./my-plugin"], tmp_path, with_deps=True)
    with pytest.raises(Exception, match=r"zscore_pls is neither built in .* \(they register: zscore \(mine\)\)"):
        check_detectors(["statistical", "zscore_pls"], ["./my-plugin"], tmp_path, with_deps=True)
