"""Signing in to the dashboard in headless Chromium against a real `iops local` (its emulator's Cognito).

The page opens on a sign-in form; a wrong password is refused on the page; the local user reaches
the alerts feed; "Sign out" returns to the form. Tokens stay out of every URL, the console and
localStorage.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import SIGNED_IN, LocalSystem, Probe, sign_in, skip_reason

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
]

FORM = '[data-testid="signin-form"]'
FEED_LOADED = '[data-testid="alerts-feed"], [data-testid="empty"], [data-testid="incidents-page"]'
LIBRARY_PREFIX = "CognitoIdentityServiceProvider."


def storage(page: Any, kind: str) -> dict[str, str]:
    return page.evaluate(f"Object.fromEntries(Object.entries(window.{kind}))")


def cognito_tokens(page: Any) -> list[str]:
    """The ID, access and refresh tokens the library keeps in this tab's sessionStorage."""
    return [
        v
        for k, v in storage(page, "sessionStorage").items()
        if k.startswith(LIBRARY_PREFIX) and k.endswith(("idToken", "accessToken", "refreshToken"))
    ]


def test_opens_on_the_signin_page_and_refuses_a_wrong_password(local_system: LocalSystem, open_page: Any) -> None:
    probe: Probe = open_page()
    page = probe.page
    page.goto(local_system.url + "/")
    page.wait_for_selector(FORM)
    assert page.locator(FEED_LOADED).count() == 0
    assert page.locator(SIGNED_IN).count() == 0

    page.fill(f'{FORM} input[name="username"]', local_system.user)
    page.fill(f'{FORM} input[name="password"]', local_system.password + "-wrong")
    page.get_by_role("button", name="Sign in").click()
    error = page.wait_for_selector('[data-testid="signin-error"]')
    assert error is not None and "Incorrect" in error.inner_text()
    assert page.locator(FORM).count() == 1
    assert cognito_tokens(page) == []
    assert storage(page, "localStorage") == {}
    # Nothing asked the API for data before anyone signed in.
    assert not [u for u, _ in probe.requests if "/insights" in u or "/metrics" in u], probe.requests
    # Chromium logs the refused sign-in (HTTP 400) itself; nothing else may complain.
    assert all("status of 400" in e for e in probe.errors), probe.errors


def test_sign_in_shows_the_feed_and_sign_out_returns_to_the_signin_page(
    local_system: LocalSystem, open_page: Any, artifacts: Any
) -> None:
    probe: Probe = open_page()
    page = probe.page
    page.goto(local_system.url + "/")
    page.wait_for_selector(FORM)
    page.screenshot(path=str(artifacts / "signin.png"))

    sign_in(page, local_system)
    page.wait_for_selector(FEED_LOADED)
    page.wait_for_selector('[data-testid="connection-status"][data-status="connected"]')
    assert local_system.user in page.inner_text(SIGNED_IN)
    page.screenshot(path=str(artifacts / "feed-signed-in.png"))
    tokens = cognito_tokens(page)
    assert len(tokens) == 3, storage(page, "sessionStorage").keys()
    assert storage(page, "localStorage") == {}

    # A reload in the same tab stays signed in (sessionStorage), and polls with the ID token.
    page.reload()
    page.wait_for_selector(FEED_LOADED)
    page.wait_for_timeout(6_000)  # at least one more poll
    polls_with_token = len(probe.authorizations)
    assert polls_with_token >= 2
    assert set(probe.authorizations) <= set(tokens) | set(cognito_tokens(page))  # the raw token, no "Bearer"

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_selector(FORM)
    assert page.locator(SIGNED_IN).count() == 0
    assert cognito_tokens(page) == []
    assert storage(page, "localStorage") == {}
    page.wait_for_timeout(6_000)  # polling stopped with the session
    assert len(probe.authorizations) == polls_with_token
    page.reload()
    page.wait_for_selector(FORM)

    secrets = set(tokens) | set(probe.authorizations)
    secrets |= {part for s in list(secrets) for part in s.split(".") if len(part) >= 20}  # a JWT's pieces too
    urls = [u for u, _ in probe.requests] + probe.navigations
    assert urls and not [u for u in urls if any(s in u for s in secrets)], urls
    assert not [m for m in probe.console if any(s in m for s in secrets)]
    assert not [u for u in urls if local_system.password in u]
    assert probe.errors == []
