"""Shared fixtures: AWS credentials that can never reach a real account, moto tables."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.offline import OFFLINE_AWS

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

os.environ.update(
    {
        **OFFLINE_AWS,
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon (Powertools turns it off outside Lambda anyway)
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
TEST_PREFIX = "iops-dev"
"""The handlers' tables in these tests: the dev stack's names."""


def _function_environment() -> dict[str, str]:
    """The API and AI functions' settings for the dev stack's tables, as `iops local` sets them (`to_env`)."""
    from local.emulator import function_environment, function_settings

    return function_environment(*function_settings(TEST_PREFIX).values())


os.environ.update(_function_environment())


@pytest.fixture
def aws() -> Iterator[None]:
    """In-process moto with every table from `handlers.definitions` created."""
    from moto import mock_aws

    from handlers.definitions import TABLES
    from iops.dal import aws as aws_clients
    from iops.settings import AiSettings, IngestSettings

    with mock_aws():
        aws_clients.reset()
        ddb = aws_clients.client("dynamodb")
        ai = AiSettings.from_env()
        names = {
            "metrics": IngestSettings.from_env().metrics_table,
            "insights": ai.insights_table,
            "detector-state": ai.state_table,
            "correlation": ai.patterns.table,
        }
        for table in TABLES:
            ddb.create_table(**table.create_table_kwargs(names.get(table.logical, table.physical_name("iops-dev"))))
        yield
        aws_clients.reset()


@pytest.fixture
def ddb(aws):
    from iops.dal import aws as aws_clients

    return aws_clients.client("dynamodb")
