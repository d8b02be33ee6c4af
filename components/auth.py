"""Readers sign in: the Cognito user pool, the dashboard's app client and the invited users.

Nobody signs themselves up: an administrator (this stack, from ``dashboardUsers``) creates each
user, and Cognito e-mails them a temporary password they must change at first sign-in. The API's
``COGNITO_USER_POOLS`` authorizer (`components.api`) accepts this pool's ID tokens only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

PASSWORD_POLICY = {
    "minimum_length": 12,
    "require_uppercase": True,
    "require_lowercase": True,
    "require_numbers": True,
    "require_symbols": True,
    "temporary_password_validity_days": 7,
}
AUTH_FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
"""SRP for the dashboard (the password never leaves the browser); password auth for `iops token` scripts."""
ID_TOKEN_HOURS = 1
ACCESS_TOKEN_HOURS = 1
REFRESH_TOKEN_DAYS = 30
DASHBOARD_FLOW = "USER_SRP_AUTH"
"""The flow the deployed dashboard signs in with (config.json ``auth.flow``)."""


def slug(name: str) -> str:
    """A resource-name fragment for an e-mail address or writer name: alice@example.com -> alice-at-example-com."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower().replace("@", "-at-")).strip("-")


@dataclass
class AuthArgs:
    prefix: str
    mfa: str
    """The pool's MfaConfiguration: OFF, OPTIONAL or ON (TOTP authenticator apps when not OFF)."""
    users: list[str] = field(default_factory=list)
    """E-mail addresses to invite (each is also the user's sign-in name)."""
    dashboard_url: pulumi.Input[str] | None = None
    """Named in the invitation, so the invited user knows where to sign in."""


class UserPool(pulumi.ComponentResource):
    """The pool (admin-created users only, strong passwords, MFA), the dashboard's client, one user per e-mail."""

    pool: aws.cognito.UserPool
    client: aws.cognito.UserPoolClient
    users: dict[str, aws.cognito.User]
    """E-mail address -> the invited user."""

    def __init__(self, name: str, args: AuthArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iops:auth:UserPool", name, None, opts)
        if args.mfa not in ("OFF", "OPTIONAL", "ON"):
            raise ValueError(f"mfa must be OFF, OPTIONAL or ON, got {args.mfa!r}")
        child = pulumi.ResourceOptions(parent=self)
        where = pulumi.Output.from_input(args.dashboard_url or "the IOps dashboard")
        self.pool = aws.cognito.UserPool(
            f"{name}-pool",
            name=f"{args.prefix}-readers",
            username_attributes=["email"],
            auto_verified_attributes=["email"],
            password_policy=PASSWORD_POLICY,
            mfa_configuration=args.mfa,
            software_token_mfa_configuration={"enabled": True} if args.mfa != "OFF" else None,
            account_recovery_setting={"recovery_mechanisms": [{"name": "verified_email", "priority": 1}]},
            admin_create_user_config={
                "allow_admin_create_user_only": True,
                "invite_message_template": {
                    "email_subject": "Your IOps dashboard account",
                    "email_message": where.apply(
                        lambda url: (
                            f"Sign in to {url} as {{username}} with the temporary password {{####}} "
                            "and choose your own."
                        )
                    ),
                    "sms_message": "IOps dashboard: user {username}, temporary password {####}",
                },
            },
            opts=child,
        )
        self.client = aws.cognito.UserPoolClient(
            f"{name}-dashboard-client",
            name=f"{args.prefix}-dashboard",
            user_pool_id=self.pool.id,
            generate_secret=False,  # a browser app cannot keep a secret
            explicit_auth_flows=AUTH_FLOWS,
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,  # sign-out (GlobalSignOut) revokes the refresh token
            id_token_validity=ID_TOKEN_HOURS,
            access_token_validity=ACCESS_TOKEN_HOURS,
            refresh_token_validity=REFRESH_TOKEN_DAYS,
            token_validity_units={"id_token": "hours", "access_token": "hours", "refresh_token": "days"},
            opts=child,
        )
        self.users = {
            email: aws.cognito.User(
                f"{name}-user-{slug(email)}",
                user_pool_id=self.pool.id,
                username=email,
                attributes={"email": email, "email_verified": "true"},
                desired_delivery_mediums=["EMAIL"],
                opts=child,
            )
            for email in args.users
        }
        self.register_outputs({"userPoolId": self.pool.id, "userPoolArn": self.pool.arn, "clientId": self.client.id})
