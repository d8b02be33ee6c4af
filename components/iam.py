"""IAM documents every tier writes: a service's assume-role policy, an Allow statement, a table grant."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pulumi

from handlers.definitions import table_access

VERSION = "2012-10-17"


def assume_role_policy(service: str, condition: dict | None = None) -> str:
    """The trust policy of a role that ``service`` (e.g. ``lambda.amazonaws.com``) assumes, only under
    ``condition`` when given (this account, an external id: no confused deputy)."""
    statement: dict = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": VERSION, "Statement": [statement]})


def allow(actions: Sequence[str], resource: pulumi.Input[str] | pulumi.Input[list[str]]) -> pulumi.Output[dict]:
    """``{"Effect": "Allow", "Action": actions, "Resource": resource}`` once the resource is known."""
    return pulumi.Output.from_input(resource).apply(
        lambda r: {"Effect": "Allow", "Action": list(actions), "Resource": r}
    )


def table_statements(
    function: str,
    tables: Mapping[str, pulumi.Input[str]],
    streams: Mapping[str, pulumi.Input[str]] | None = None,
) -> list[pulumi.Output[dict]]:
    """One statement per `handlers.definitions.TABLE_ACCESS` entry of ``function``, in that order.

    ``tables`` maps each table's logical name to its ARN, ``streams`` to its stream's ARN; an entry
    naming a table (or stream) not given is a KeyError, so a tier cannot silently grant less.
    """
    statements = []
    for access in table_access(function):
        actions = [f"dynamodb:{op}" for op in access.operations]
        if access.stream:
            statements.append(allow(actions, (streams or {})[access.table.logical]))
        elif access.indexes:
            arn = pulumi.Output.from_input(tables[access.table.logical])
            statements.append(allow(actions, arn.apply(lambda a: [a, f"{a}/index/*"])))
        else:
            statements.append(allow(actions, tables[access.table.logical]))
    return statements


def rule_dead_letter_policy(queue_arn: pulumi.Input[str], rule_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """The queue policy that lets one EventBridge rule (and only it) dead-letter into the queue."""
    return pulumi.Output.all(queue_arn, rule_arn).apply(
        lambda a: json.dumps(
            {
                "Version": VERSION,
                "Statement": [
                    {
                        "Sid": "TheScheduleDeadLetters",
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": a[0],
                        "Condition": {"ArnEquals": {"aws:SourceArn": a[1]}},
                    }
                ],
            }
        )
    )
