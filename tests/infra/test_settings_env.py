"""Every function's environment in the stack is its settings class's ``to_env()`` (`iops.settings`)."""

from __future__ import annotations

import pytest

from iops.settings import FUNCTION_SETTINGS, RuntimeSettings
from tests.infra.harness import run_program

FN = "aws:lambda/function:Function"


@pytest.fixture(scope="module")
def graph():
    return run_program("dev", {"streamingEnabled": True})


def test_each_function_reads_its_whole_environment_from_its_settings(graph) -> None:
    functions = {fn.inputs["name"]: fn.inputs["environment"]["variables"] for fn in graph.of_type(FN)}
    assert set(functions) == {f"iops-dev-{key}" for key in FUNCTION_SETTINGS}  # streaming on, simulator on dev
    runtime = {v.env for v in RuntimeSettings.variables()}
    for key, cls in FUNCTION_SETTINGS.items():
        env = functions[f"iops-dev-{key}"]
        settings = cls.from_env(env)  # nothing missing, nothing invalid
        assert settings.to_env() == {k: v for k, v in env.items() if k not in runtime}, key
        assert env[RuntimeSettings.env_name("service_name")] == f"iops-dev-{key}"
