"""The IOps Dashboard guardrails: `pulumi preview --policy-pack policy` (every rule mandatory)."""

from pack import PACK_NAME, policies
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(name=PACK_NAME, policies=policies(), enforcement_level=EnforcementLevel.MANDATORY)
