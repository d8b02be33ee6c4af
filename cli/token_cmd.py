"""``iops token``: print an ID token of the user pool, for scripts: ``curl -H "Authorization: $(iops token)" ...``.

Against a running ``iops local`` (the default, ``--api http://127.0.0.1:8000``) it signs in as that
system's user, with the password from its run file, at the emulator's Cognito. For a deployed stack
pass ``--user``, the password in a file (``--password-file``) or in ``IOPS_PASSWORD`` (``--password``
works too, but other users of the machine see it in ``ps``), and the pool's app client: ``--dashboard URL`` reads the stack's ``config.json``, or
give ``--client-id`` and ``--region``. It signs in with USER_PASSWORD_AUTH, so the stack's app client
must allow ALLOW_USER_PASSWORD_AUTH; a user who must still set a new password signs in to the
dashboard once first. Only the local path is tested (against moto); the deployed one is not tested
against AWS here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from local import runfile

DEFAULT_API = "http://127.0.0.1:8000"
PASSWORD_ENV = "IOPS_PASSWORD"
WRONG_CREDENTIALS = {"NotAuthorizedException", "UserNotFoundException"}


class TokenError(Exception):
    """Why no token could be had, in words for the person who asked (exit code 2)."""


@dataclass(frozen=True, slots=True)
class AppClient:
    """Where to sign in: the pool's app client, and Cognito's endpoint (None: AWS's in ``region``)."""

    region: str
    client_id: str
    endpoint: str | None = None


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token", help="print an ID token: the local user's, or --user's of a deployed stack")
    p.add_argument("--api", default=DEFAULT_API, help=f"the iops local whose user signs in (default {DEFAULT_API})")
    p.add_argument("--user", help="sign in as this user (a deployed stack's); default: the local user")
    p.add_argument(
        "--password-file", type=Path, metavar="FILE", help=f"with --user: the password's file (or env {PASSWORD_ENV})"
    )
    p.add_argument(
        "--password",
        help=f"with --user: the password (visible to other local users in ps: prefer --password-file or env {PASSWORD_ENV})",
    )
    p.add_argument("--dashboard", metavar="URL", help="with --user: a dashboard URL whose config.json names the pool")
    p.add_argument("--client-id", help="with --user: the pool's app client id (instead of --dashboard)")
    p.add_argument("--region", help="with --client-id: the pool's region")
    p.set_defaults(func=run)


def sign_in(client: AppClient, user: str, password: str) -> str:
    """The ID token Cognito issues for ``user`` (InitiateAuth, USER_PASSWORD_AUTH; an unsigned call, as a browser's)."""
    cognito = boto3.client(
        "cognito-idp",
        region_name=client.region,
        endpoint_url=client.endpoint,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 2}),
    )
    try:
        resp = cognito.initiate_auth(
            ClientId=client.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user, "PASSWORD": password},
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in WRONG_CREDENTIALS:
            raise TokenError(f"wrong user name or password for {user!r}") from None
        raise TokenError(f"Cognito refused: {code}: {exc.response.get('Error', {}).get('Message', '')}") from None
    except BotoCoreError as exc:
        raise TokenError(f"cannot reach Cognito: {exc}") from None
    if "AuthenticationResult" not in resp:
        raise TokenError(f"{user!r} must answer {resp.get('ChallengeName')} first: sign in to the dashboard once")
    return resp["AuthenticationResult"]["IdToken"]


def local_token(api: str = DEFAULT_API) -> str:
    """An ID token of the user of the `iops local` serving ``api``, from its run file."""
    found = runfile.local_sign_in(api)
    if found is None:
        raise TokenError(
            f"no iops local is running at {api} (start one: iops local), or pass --user for a deployed stack"
        )
    return sign_in(AppClient(found.region, found.client_id, found.cognito_endpoint), found.user, found.password)


def dashboard_client(url: str) -> AppClient:
    """The app client a dashboard's ``config.json`` names (its ``auth``: region, clientId, endpoint)."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/config.json", timeout=10) as resp:
            auth = json.loads(resp.read())["auth"]
        return AppClient(auth["region"], auth["clientId"], auth.get("endpoint"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TokenError(f"no sign-in configuration at {url}/config.json ({exc})") from None


def password(args: argparse.Namespace) -> str:
    if args.password is not None:
        return args.password
    if args.password_file is not None:
        try:
            return args.password_file.read_text().rstrip("\r\n")
        except OSError as exc:
            raise TokenError(f"--password-file: {exc}") from None
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    raise TokenError(f"--user needs its password: --password-file FILE, env {PASSWORD_ENV} or --password")


def app_client(args: argparse.Namespace) -> AppClient:
    """The app client ``--user`` signs in to: flags, else a dashboard's config.json, else the local run's pool."""
    if args.client_id:
        if not args.region:
            raise TokenError("--client-id needs --region")
        return AppClient(args.region, args.client_id)
    if args.dashboard:
        return dashboard_client(args.dashboard)
    found = runfile.local_sign_in(args.api)
    if found is None:
        raise TokenError(f"--user needs --dashboard URL or --client-id and --region (no iops local at {args.api})")
    return AppClient(found.region, found.client_id, found.cognito_endpoint)


def run(args: argparse.Namespace) -> int:
    try:
        token = local_token(args.api) if args.user is None else sign_in(app_client(args), args.user, password(args))
    except TokenError as exc:
        print(f"iops token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0
