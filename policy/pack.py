"""`policy.rules` as pulumi_policy policies (mandatory): what `pulumi preview --policy-pack policy` runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

if __package__:  # imported as policy.pack (tests)
    from policy import rules
else:  # run by the Pulumi CLI: policy/__main__.py with the pack's directory on sys.path
    import rules

PACK_NAME = "iops-guardrails"


def known(props: Mapping[str, Any], key: str) -> Any:
    """A property's value, or None while it is unknown (preview) or absent."""
    try:
        return props.get(key)
    except UnknownValueError:
        return None


def stack_resources(resources: list[PolicyResource]) -> list[rules.Res]:
    """Policy resources as `rules.Res`, references taken from the engine's property dependencies."""
    out = [
        rules.Res(
            r.resource_type,
            r.urn,
            r.props,
            {prop: frozenset(d.urn for d in deps) for prop, deps in (r.property_dependencies or {}).items()},
        )
        for r in resources
    ]
    return rules.link_by_value(out, known)


def _resource_policy(rule: rules.ResourceRule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule.check(args.resource_type, args.props):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.name, description=rule.description, validate=validate, enforcement_level=EnforcementLevel.MANDATORY
    )


def _stack_policy(rule: rules.StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for urn, message in rule.check(stack_resources(list(args.resources))):
            report_violation(message, urn)

    return StackValidationPolicy(
        name=rule.name, description=rule.description, validate=validate, enforcement_level=EnforcementLevel.MANDATORY
    )


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    return [_resource_policy(r) for r in rules.RESOURCE_RULES] + [_stack_policy(r) for r in rules.STACK_RULES]
