"""The incidents home page and the fleet page in headless Chromium against a real `iops local`
(see conftest.py), signed in as the local user.

Tests that need the incident, silence and feedback routes skip, naming the missing route, until
`handlers/definitions.py` has them; nothing here fakes the backend. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from handlers.definitions import match_route

from .conftest import PHONE, LocalSystem, Probe, send_history_then_spike, sign_in, skip_reason

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
]

INCIDENTS_LOADED = '[data-testid="incidents"], [data-testid="empty-incidents"], [data-testid="error-state"]'
INCIDENT_DEADLINE_MS = 20_000
ID_TOKEN_JS = """() => Object.entries(sessionStorage)
    .find(([k]) => k.startsWith("CognitoIdentityServiceProvider.") && k.endsWith(".idToken"))?.[1] ?? null"""


def missing(*routes: tuple[str, str]) -> str | None:
    """Why a test cannot run yet: the routes (method, example path) the backend does not serve."""
    gone = [f"{method} {path}" for method, path in routes if match_route(method, path) is None]
    return f"the backend has no {', '.join(gone)} yet (handlers/definitions.py ROUTES)" if gone else None


def needs(*routes: tuple[str, str]) -> pytest.MarkDecorator:
    reason = missing(*routes)
    return pytest.mark.skipif(reason is not None, reason=reason or "")


LIST = ("GET", "/incidents")
ROUTES_OF_THE_FLOW = (
    LIST,
    ("GET", "/incidents/inc-x"),
    ("POST", "/incidents/inc-x/ack"),
    ("POST", "/incidents/inc-x/resolve"),
    ("GET", "/silences"),
    ("POST", "/silences"),
    ("DELETE", "/silences/sil-x"),
    ("POST", "/insights/x/feedback"),
)


def api_get(page: Any, path: str) -> Any:
    """GET an API route from inside the signed-in page, with its ID token (the routes need a user)."""
    token = page.evaluate(ID_TOKEN_JS)
    assert token, "no ID token in this tab's sessionStorage"
    return page.evaluate(
        """async ([path, token]) => {
            const r = await fetch(path, { headers: { Accept: "application/json", Authorization: token } });
            return { status: r.status, body: await r.json() };
        }""",
        [path, token],
    )


def no_overflow(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def unexpected_errors(probe: Probe) -> list[str]:
    """Console errors, except the 404s of the incident routes while the backend has none."""
    if missing(LIST) is None:
        return probe.errors
    return [e for e in probe.errors if "status of 404" not in e]


def test_incidents_are_home_and_the_tabs_reach_the_feed_and_the_fleet(
    local_system: LocalSystem, open_page: Any, artifacts: Path
) -> None:
    host = f"e2e-fleet-{random.randrange(10_000):04d}"
    send_history_then_spike(local_system, host)
    probe: Probe = open_page()
    page = probe.page
    sign_in(page, local_system)
    page.wait_for_selector(INCIDENTS_LOADED)
    assert page.inner_text('.tabs [aria-current="page"]') == "Incidents"
    if missing(LIST) is None:
        assert page.locator('[data-testid="incidents-page"]').count() == 1
    else:  # the page says what is wrong instead of showing nothing
        assert "Couldn't load incidents" in page.inner_text('[data-testid="error-state"]')
    page.screenshot(path=str(artifacts / "incidents-home.png"), full_page=True)

    # Insights: the alerts feed, client-side, with its filters under /insights.
    page.get_by_role("link", name="Insights", exact=True).click()
    page.wait_for_url("**/insights")
    page.wait_for_selector('[data-testid="alerts-feed"], [data-testid="empty"]')

    # Fleet: the host that just reported, with sparklines of both its metrics.
    page.get_by_role("link", name="Fleet", exact=True).click()
    page.wait_for_url("**/fleet")
    row = f'[data-testid="fleet-host"][data-host="{host}"]'
    page.wait_for_selector(f'{row} [data-testid="sparkline"][data-metric="cpuUsage"]')
    page.wait_for_selector(f'{row} [data-testid="sparkline"][data-metric="memoryUsage"]')
    assert page.inner_text(f'{row} [data-testid="last-reported"]').startswith("reported ")
    page.screenshot(path=str(artifacts / "fleet.png"), full_page=True)
    page.locator(f"{row} a.host").click()
    page.wait_for_url(f"**/hosts/{host}")
    page.wait_for_selector('[data-testid="metric-chart"][data-metric="cpuUsage"]')
    assert unexpected_errors(probe) == []

    # A phone: both new pages fit the screen.
    phone: Probe = open_page(PHONE, phone=True, dark=True)
    sign_in(phone.page, local_system, local_system.url + "/fleet")
    phone.page.wait_for_selector(row)
    assert no_overflow(phone.page), "horizontal overflow on /fleet"
    phone.page.screenshot(path=str(artifacts / "fleet-phone.png"), full_page=True)
    phone.page.goto(local_system.url + "/")
    phone.page.wait_for_selector(INCIDENTS_LOADED)
    assert no_overflow(phone.page), "horizontal overflow on the incidents page"
    assert unexpected_errors(phone) == []


@needs(*ROUTES_OF_THE_FLOW)
def test_an_anomaly_opens_an_incident_that_is_acknowledged_silenced_and_resolved(
    local_system: LocalSystem, open_page: Any, artifacts: Path
) -> None:
    host = f"e2e-inc-{random.randrange(10_000):04d}"
    probe: Probe = open_page()
    page = probe.page
    sign_in(page, local_system)
    page.wait_for_selector(INCIDENTS_LOADED)

    send_history_then_spike(local_system, host)
    card = f'[data-testid="incident-card"][data-hosts~="{host}"]'
    page.wait_for_selector(f'{card}[data-status="open"]', timeout=INCIDENT_DEADLINE_MS)
    incident_id = page.get_attribute(card, "data-incident-id")
    assert incident_id
    page.wait_for_selector(f'{card} [data-testid="timeline-insight"]')

    # Feedback on the spike's insight.
    insight_id = page.get_attribute(f'{card} [data-testid="timeline-insight"]', "data-alert-id")
    page.locator(f'{card} [data-testid="feedback"]').first.get_by_role("button", name="Useful", exact=True).click()
    page.wait_for_selector(f'{card} [data-testid="feedback-sent"]')

    # Silence this host for 1 h: the backend has it (host exactly, every metric), the card says so.
    # Another test's spike at the same time can join this incident (cross-host grouping): pick ours.
    chooser = page.locator(f'{card} [data-testid="silence-host"]')
    if chooser.count():
        chooser.select_option(host)
    page.locator(f'{card} [data-testid="silence-control"]').get_by_role("button", name="1 h", exact=True).click()
    page.wait_for_selector(f'{card} [data-testid="silenced"]')
    silences = api_get(page, "/silences")
    assert silences["status"] == 200, silences
    mine = [s for s in silences["body"]["silences"] if s["host"] == host]
    assert len(mine) == 1 and mine[0]["metric"] == "*", silences
    silence_row = f'[data-testid="silence"][data-host="{host}"]'
    page.wait_for_selector(silence_row)

    # Acknowledge: the card moves to Acknowledged, and the backend records who did it.
    page.locator(card).get_by_role("button", name="Acknowledge", exact=True).click()
    page.wait_for_selector(f'{card}[data-status="acknowledged"]')
    detail = api_get(page, f"/incidents/{incident_id}")
    assert detail["status"] == 200 and detail["body"]["status"] == "acknowledged", detail
    assert detail["body"]["acknowledged_by"] == local_system.user, detail
    assert insight_id in detail["body"]["insight_ids"], detail
    page.screenshot(path=str(artifacts / "incident-acknowledged.png"), full_page=True)

    # Remove the silence, then resolve.
    page.locator(silence_row).get_by_role("button", name="Remove", exact=True).click()
    page.wait_for_selector(silence_row, state="detached")
    page.locator(card).get_by_role("button", name="Resolve", exact=True).click()
    page.wait_for_selector(f'{card}[data-status="resolved"]')
    assert api_get(page, f"/incidents/{incident_id}")["body"]["status"] == "resolved"

    # A fresh load shows it under "Resolved in the last 24 h", with no actions left.
    page.reload()
    page.wait_for_selector(f'{card}[data-status="resolved"]')
    assert page.locator(f"{card} .actions").count() == 0
    assert probe.errors == []
