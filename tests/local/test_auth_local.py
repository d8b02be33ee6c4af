"""Issue 17, local side: nobody reads the fleet's metrics without signing in to `iops local`'s user pool.

Against a real ``iops local`` subprocess and its emulator's Cognito: every GET but ``/openapi.json``
answers a JSON 401 without a token, with a forged one (another RSA key), an expired one and one of
another pool (a real token from a second pool in the same emulator), and 200 with the token
``iops token`` prints; ``POST /metrics`` with a user's token but no writer key is a 403; a writer
removed from the configuration loses its key at the next start. The dashboard's same-origin door
to Cognito (``POST /cognito-idp/``) signs in with the right password only, and serves nothing else.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests

from handlers.definitions import ROUTES
from local import runfile
from local.system import configured_writers, writer_keys
from tests.local.iops_process import ROOT, IopsLocal, http
from tests.local.tokens import Signer

pytestmark = pytest.mark.slow

KEY = "auth-local-key-alpha"
TARGET = "AWSCognitoIdentityProviderService."
SIGNED_IN_GETS = [r.path for r in ROUTES if r.signed_in and r.method == "GET"]


def iops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """An ``iops`` command as a user types it (no password in the environment unless given)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("IOPS_PASSWORD", "IOPS_API_KEY")}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def server() -> Iterator[IopsLocal]:
    """`iops local` holding one insight (so ``GET /insights/{id}`` can answer 200)."""
    with IopsLocal(api_key=KEY) as srv:
        start = time.time() - 300 * 60
        series = [
            {"hostname": "auth-01", "timestamp": start + 60 * i, "cpuUsage": 97.0 if i == 250 else 30 + (i % 7) * 0.5}
            for i in range(300)
        ]
        assert http("POST", f"{srv.url}/metrics", {"metrics": series}, key=KEY)[0] == 200
        yield srv


@pytest.fixture(scope="module")
def cli_token(server: IopsLocal) -> str:
    """What ``iops token --api URL`` prints: the token a script passes in ``Authorization``."""
    done = iops("token", "--api", server.url)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def insight_id(server: IopsLocal, cli_token: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, recent = http("GET", f"{server.url}/insights/recent", token=cli_token)
        if status == 200 and recent:
            return recent[0]["alert_id"]
        time.sleep(0.5)
    raise AssertionError("the seeded spike produced no insight")


@pytest.fixture(scope="module")
def incident_id(server: IopsLocal, cli_token: str, insight_id: str) -> str:
    """The incident the seeded spike's insight opened (insights join incidents as they are stored)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, page = http("GET", f"{server.url}/incidents", token=cli_token)
        found = [i for i in page.get("incidents", []) if insight_id in i["insight_ids"]] if status == 200 else []
        if found:
            return found[0]["incident_id"]
        time.sleep(0.5)
    raise AssertionError("the seeded spike's insight is in no incident")


@pytest.fixture(scope="module")
def sign_in(server: IopsLocal) -> runfile.SignIn:
    found = runfile.local_sign_in(server.url)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def other_pool_token(sign_in: runfile.SignIn) -> str:
    """A real ID token of a second user pool in the same emulator (signed by the same moto key)."""
    idp = boto3.client(
        "cognito-idp",
        endpoint_url=sign_in.cognito_endpoint,
        region_name=sign_in.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    pool = idp.create_user_pool(PoolName="intruders")["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="intruder", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username=sign_in.user, MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username=sign_in.user, Password="Intruder-pass-1", Permanent=True)
    got = idp.initiate_auth(
        ClientId=client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": sign_in.user, "PASSWORD": "Intruder-pass-1"},
    )
    return got["AuthenticationResult"]["IdToken"]


def refused(sign_in: runfile.SignIn, other_pool_token: str) -> dict[str, str | None]:
    moto = Signer.moto()  # the key the emulator signs with: only the claims make these invalid
    return {
        "no-token": None,
        "forged": Signer(kid=moto.kid).token(sign_in.user_pool_id, sign_in.client_id, sign_in.region),
        "expired": moto.token(sign_in.user_pool_id, sign_in.client_id, sign_in.region, expires_in=-3600),
        "other-pool": other_pool_token,
    }


def concrete(path: str, insight_id: str, incident_id: str) -> str:
    return path.replace("{id}", incident_id if path.startswith("/incidents/") else insight_id)


def get(url: str, token: str | None) -> requests.Response:
    return requests.get(url, headers={"Authorization": token} if token else {}, timeout=30)


@pytest.mark.parametrize("path", SIGNED_IN_GETS)
def test_every_get_but_openapi_needs_a_valid_token(
    server: IopsLocal,
    sign_in: runfile.SignIn,
    other_pool_token: str,
    cli_token: str,
    insight_id: str,
    incident_id: str,
    path: str,
) -> None:
    target = f"{server.url}{concrete(path, insight_id, incident_id)}"
    for kind, token in refused(sign_in, other_pool_token).items():
        resp = get(target, token)
        assert resp.status_code == 401, (kind, resp.status_code, resp.text[:200])
        assert resp.headers["Content-Type"] == "application/json" and resp.json() == {"message": "Unauthorized"}
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
    resp = get(target, cli_token)
    assert resp.status_code == 200, resp.text[:200]
    assert get(target, f"Bearer {cli_token}").status_code == 200


def test_the_moto_signer_is_the_emulators_key(server: IopsLocal, sign_in: runfile.SignIn) -> None:
    """The expired-token case above fails on expiry alone: the same claims, unexpired, are accepted."""
    fresh = Signer.moto().token(sign_in.user_pool_id, sign_in.client_id, sign_in.region)
    assert get(f"{server.url}/insights/recent", fresh).status_code == 200


def test_the_openapi_document_and_preflight_need_no_token(server: IopsLocal) -> None:
    assert get(f"{server.url}/openapi.json", None).status_code == 200
    resp = requests.options(f"{server.url}/insights/recent", timeout=30)
    assert resp.status_code == 204 and "Authorization" in resp.headers["Access-Control-Allow-Headers"].split(",")


def test_a_user_is_no_writer(server: IopsLocal, cli_token: str) -> None:
    one = {"hostname": "auth-02", "timestamp": time.time(), "cpuUsage": 1}
    assert http("POST", f"{server.url}/metrics", one, token=cli_token)[0] == 403
    assert http("POST", f"{server.url}/metrics", one, key=KEY, token=cli_token)[0] == 200


def test_config_json_tells_the_dashboard_how_to_sign_in(server: IopsLocal, sign_in: runfile.SignIn) -> None:
    config = requests.get(f"{server.url}/config.json", timeout=30).json()
    assert config == {
        "apiUrl": server.url,
        "auth": {
            "region": sign_in.region,
            "userPoolId": sign_in.user_pool_id,
            "clientId": sign_in.client_id,
            "endpoint": f"{server.url}/cognito-idp/",
            "flow": "USER_PASSWORD_AUTH",
        },
    }


def cognito(server: IopsLocal, operation: str, body: dict) -> requests.Response:
    """A call of Cognito's JSON API as amazon-cognito-identity-js makes it, to the dashboard's origin."""
    return requests.post(
        f"{server.url}/cognito-idp/",
        data=json.dumps(body),
        headers={"X-Amz-Target": TARGET + operation, "Content-Type": "application/x-amz-json-1.1"},
        timeout=30,
    )


def password_auth(sign_in: runfile.SignIn, password: str) -> dict:
    return {
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": sign_in.client_id,
        "AuthParameters": {"USERNAME": sign_in.user, "PASSWORD": password},
    }


def test_the_browser_signs_in_through_the_same_origin(server: IopsLocal, sign_in: runfile.SignIn) -> None:
    resp = cognito(server, "InitiateAuth", password_auth(sign_in, sign_in.password))
    assert resp.status_code == 200, resp.text
    tokens = resp.json()["AuthenticationResult"]
    assert get(f"{server.url}/insights/recent", tokens["IdToken"]).status_code == 200
    assert get(f"{server.url}/insights/recent", tokens["AccessToken"]).status_code == 401  # an ID token, not access
    user = cognito(server, "GetUser", {"AccessToken": tokens["AccessToken"]})
    assert user.status_code == 200 and user.json()["Username"] == sign_in.user
    assert cognito(server, "GlobalSignOut", {"AccessToken": tokens["AccessToken"]}).status_code == 200


def test_a_wrong_password_does_not_sign_in(server: IopsLocal, sign_in: runfile.SignIn) -> None:
    resp = cognito(server, "InitiateAuth", password_auth(sign_in, sign_in.password + "x"))
    assert resp.status_code == 400 and resp.json()["__type"] == "NotAuthorizedException"


@pytest.mark.parametrize("operation", ["ListUsers", "AdminCreateUser", "AdminSetUserPassword", "SignUp", ""])
def test_no_other_cognito_operation_is_served(server: IopsLocal, sign_in: runfile.SignIn, operation: str) -> None:
    resp = cognito(server, operation, {"UserPoolId": sign_in.user_pool_id, "ClientId": sign_in.client_id})
    assert resp.status_code == 400 and resp.json()["message"]


def test_what_moto_cannot_serve_is_a_400_not_a_500(server: IopsLocal, sign_in: runfile.SignIn) -> None:
    resp = cognito(server, "InitiateAuth", {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": sign_in.client_id})
    assert resp.status_code == 400 and resp.json()["message"]
    assert requests.get(f"{server.url}/cognito-idp/", timeout=30).status_code == 404
    assert requests.post(f"{server.url}/cognito-idp/x", timeout=30).status_code == 404


def test_iops_token_for_a_named_user_through_the_dashboards_config(
    server: IopsLocal, sign_in: runfile.SignIn, tmp_path: Path
) -> None:
    """``--user`` with ``--dashboard``: the pool from config.json, the password from a file or the environment."""
    secret = tmp_path / "password"
    secret.write_text(sign_in.password + "\n")
    done = iops("token", "--user", sign_in.user, "--password-file", str(secret), "--dashboard", server.url)
    assert done.returncode == 0, done.stderr
    assert get(f"{server.url}/insights/recent", done.stdout.strip()).status_code == 200
    env = {"IOPS_PASSWORD": sign_in.password}
    assert iops("token", "--user", sign_in.user, "--dashboard", server.url, env=env).returncode == 0
    given = iops("token", "--user", sign_in.user, "--password", sign_in.password, "--dashboard", server.url)
    assert given.returncode == 0 and get(f"{server.url}/insights/recent", given.stdout.strip()).status_code == 200


def test_iops_token_errors_are_clear_and_exit_2(server: IopsLocal, sign_in: runfile.SignIn, tmp_path: Path) -> None:
    wrong = iops("token", "--api", server.url, "--user", sign_in.user, env={"IOPS_PASSWORD": "Wrong-password-1"})
    assert wrong.returncode == 2 and "wrong user name or password" in wrong.stderr and not wrong.stdout
    nobody = iops("token", "--api", server.url, env={"IOPS_RUN_DIR": str(tmp_path)})
    assert nobody.returncode == 2 and "no iops local is running" in nobody.stderr
    no_password = iops("token", "--api", server.url, "--user", sign_in.user)
    assert no_password.returncode == 2 and "IOPS_PASSWORD" in no_password.stderr
    assert "Traceback" not in wrong.stderr + nobody.stderr + no_password.stderr


def test_the_banner_and_run_file_give_the_user(server: IopsLocal, sign_in: runfile.SignIn) -> None:
    banner = "".join(server.output)
    assert f"user {sign_in.user}, password {sign_in.password}" in banner
    record = runfile.read(server.url)
    assert record is not None and record["writers"] == {"local": KEY} and record["api_key"] == KEY
    assert stat.S_IMODE(runfile.path(server.port).stat().st_mode) == 0o600


# --- writers: a key each, and a writer removed from the configuration loses it ---------------------


def test_a_removed_writers_key_is_refused_after_a_restart(tmp_path: Path) -> None:
    keys = tmp_path / "writer-keys.json"
    keys.write_text(json.dumps({"alpha": "key-of-alpha-0123", "beta": "key-of-beta-4567"}))
    one = {"hostname": "writers-01", "timestamp": time.time(), "cpuUsage": 1}
    both = ("--writer", "alpha", "--writer", "beta", "--writer-keys", str(keys))
    env = {"IOPS_LOCAL_USER": "ops", "IOPS_LOCAL_PASSWORD": "Chosen-pass-42"}
    server = IopsLocal(api_key="key-of-alpha-0123", extra_args=both, env=env).start()
    try:
        assert http("POST", f"{server.url}/metrics", one, key="key-of-beta-4567")[0] == 200
        assert http("POST", f"{server.url}/metrics", one, key="key-of-alpha-0123")[0] == 200
        record = runfile.read(server.url) or {}
        assert record["writers"] == {"alpha": "key-of-alpha-0123", "beta": "key-of-beta-4567"}
        assert record["user"] == "ops" and record["password"] == "Chosen-pass-42"
        assert "user ops, password Chosen-pass-42" in "".join(server.output)
        assert "key-of-beta-4567" not in "".join(server.output)  # only the first writer's key is printed
        assert server.stop() == 0
        server = IopsLocal(
            api_key="key-of-alpha-0123", port=server.port, extra_args=("--writer", "alpha", "--writer-keys", str(keys))
        ).start()
        assert http("POST", f"{server.url}/metrics", one, key="key-of-beta-4567")[0] == 403
        assert http("POST", f"{server.url}/metrics", one, key="key-of-alpha-0123")[0] == 200
        assert (runfile.read(server.url) or {})["writers"] == {"alpha": "key-of-alpha-0123"}
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()


def test_a_password_the_policy_refuses_stops_iops_local_at_once() -> None:
    done = iops("local", "--port", "0", env={"IOPS_LOCAL_PASSWORD": "short"})
    assert done.returncode == 2 and "12 or more characters" in done.stderr and "Traceback" not in done.stderr


def test_writers_come_from_the_dev_stack_config(tmp_path: Path) -> None:
    config = tmp_path / "Pulumi.dev.yaml"
    assert configured_writers(config) == ["local"]  # no file
    config.write_text("config:\n  aws:region: us-east-1\n")
    assert configured_writers(config) == ["local"]  # no writers key
    config.write_text("config:\n  iops-dashboard:writers:\n    - rack-a\n    - rack-b\n")
    assert configured_writers(config) == ["rack-a", "rack-b"]
    config.write_text("config:\n  iops-dashboard:writers: rack-a\n")
    with pytest.raises(ValueError, match="list of writer names"):
        configured_writers(config)


def test_each_writer_gets_its_own_key() -> None:
    keys = writer_keys(["a", "b", "c"], known={"b": "known-b", "gone": "known-gone"}, first_key="given-a")
    assert keys["a"] == "given-a" and keys["b"] == "known-b" and len(keys["c"]) >= 32 and set(keys) == {"a", "b", "c"}
    assert writer_keys(["a", "b"])["a"] != writer_keys(["a", "b"])["a"]  # generated per run
    for names, known in ((["a", "a"], {}), ([], {}), (["a", "b"], {"a": "same", "b": "same"})):
        with pytest.raises(ValueError):
            writer_keys(names, known)
