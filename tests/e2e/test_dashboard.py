"""The dashboard in headless Chromium against a real `iops local` (see conftest.py), signed in
as the local user the way a person does it (test_signin.py tests the sign-in itself).

Screenshots go to test-artifacts/; the POST-to-visible-alert time is printed and written to
test-artifacts/e2e-timings.json.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import PHONE, LocalSystem, Probe, send_history_then_spike, sign_in, skip_reason
from .proxy import SwitchableProxy

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
]

STATUS = '[data-testid="connection-status"]'
FIRST_LOAD_DONE = '[data-testid="alerts-feed"], [data-testid="empty"]'
ALERT_DEADLINE_S = 10.0


def status_of(page: Any) -> str | None:
    return page.get_attribute(STATUS, "data-status")


def wait_status(page: Any, status: str, timeout_s: float) -> float:
    """Wait for the indicator to show `status`; return how long it took."""
    t0 = time.monotonic()
    page.wait_for_selector(f'{STATUS}[data-status="{status}"]', timeout=timeout_s * 1000)
    return time.monotonic() - t0


def report(capsys: pytest.CaptureFixture[str], artifacts: Path, name: str, value: float) -> None:
    """Print a measurement past pytest's capture and keep it in test-artifacts/e2e-timings.json."""
    with capsys.disabled():
        print(f"\n[e2e] {name}: {value:.2f} s")
    path = artifacts / "e2e-timings.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = round(value, 3)
    path.write_text(json.dumps(data, indent=2) + "\n")


def test_page_loads_without_console_errors(local_system: LocalSystem, open_page: Any, artifacts: Path) -> None:
    probe: Probe = open_page()
    sign_in(probe.page, local_system, local_system.url + "/insights")
    wait_status(probe.page, "connected", 15)
    probe.page.wait_for_selector(FIRST_LOAD_DONE)
    if probe.page.locator('[data-testid="empty"]').count():  # a fresh system: the intentional empty state
        probe.page.screenshot(path=str(artifacts / "feed-empty.png"))
    probe.page.wait_for_timeout(6_000)  # at least one more poll
    assert probe.errors == []
    polls = [(u, a) for u, a in probe.requests if "/insights/recent" in u]
    assert len(polls) >= 2, probe.requests
    assert all(a == "application/json" for _, a in polls), polls
    assert len(probe.authorizations) >= len(polls)  # every API call carries the ID token
    assert any(u.endswith("/config.json") for u, _ in probe.requests)

    # A deep link to an insight that does not exist gets an intentional "not found" view.
    probe.page.goto(local_system.url + "/insights/no-such-insight")
    probe.page.wait_for_selector('[data-testid="error-state"]:has-text("Insight not found")')


def test_anomaly_reaches_the_feed_with_a_toast_then_the_host_chart(
    local_system: LocalSystem, open_page: Any, artifacts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = f"e2e-web-{random.randrange(10_000):04d}"
    probe = open_page()
    page = probe.page
    sign_in(page, local_system, local_system.url + "/insights")
    wait_status(page, "connected", 15)
    page.wait_for_selector(FIRST_LOAD_DONE)

    t0 = send_history_then_spike(local_system, host)
    card = (
        f'[data-testid="alert-card"][data-host="{host}"][data-metric="cpuUsage"]'
        ':is([data-severity="HIGH"], [data-severity="CRITICAL"])'
    )
    page.wait_for_selector(card, timeout=ALERT_DEADLINE_S * 1000)
    elapsed = time.monotonic() - t0
    report(capsys, artifacts, "post_to_visible_alert_s", elapsed)
    assert elapsed < ALERT_DEADLINE_S
    toast = page.wait_for_selector(f'[data-testid="toast"][data-host="{host}"]', timeout=2_000)
    assert toast is not None and "New alert" in toast.inner_text()
    page.screenshot(path=str(artifacts / "feed.png"))

    # Filters: this host keeps the card; LOW only hides it (the host may have LOW insights of its own:
    # the NAB-optimised threshold lets noise-level findings through as LOW).
    page.select_option('[data-testid="host-filter"]', host)
    assert page.locator('[data-testid="alert-card"]').count() >= 1
    assert all(
        h == host
        for h in page.locator('[data-testid="alert-card"]').evaluate_all("els => els.map(e => e.dataset.host)")
    )
    page.get_by_role("button", name="LOW", exact=True).click()
    page.wait_for_selector(card, state="detached")
    severities = page.locator('[data-testid="alert-card"]').evaluate_all("els => els.map(e => e.dataset.severity)")
    assert set(severities) <= {"LOW"}
    if not severities:
        page.wait_for_selector('[data-testid="empty-filtered"]')
    assert "severity=LOW" in page.url and f"host={host}" in page.url
    page.get_by_role("button", name="Clear filters").click()
    page.wait_for_selector(card)

    # Client-side navigation to the host chart, anomaly marked on the cpuUsage chart.
    page.locator(f"{card} a.host").first.click()
    page.wait_for_url(f"**/hosts/{host}")
    cpu_chart = page.wait_for_selector(
        '[data-testid="metric-chart"][data-metric="cpuUsage"] [data-testid="anomaly-marker"]'
    )
    assert cpu_chart is not None
    assert page.locator('[data-testid="metric-chart"]').count() >= 2  # cpuUsage and memoryUsage
    page.screenshot(path=str(artifacts / "host-chart.png"), full_page=True)

    # The marker opens the insight's detail view.
    page.locator('[data-testid="metric-chart"][data-metric="cpuUsage"] [data-testid="anomaly-marker"]').first.click()
    page.wait_for_selector('[data-testid="insight-detail"]')
    assert host in page.inner_text('[data-testid="insight-detail"]')
    detail_url = page.url
    page.screenshot(path=str(artifacts / "insight-detail.png"), full_page=True)
    assert probe.errors == []

    # A fresh load (deep link, then the feed on a phone, dark scheme) shows the alert but no toast for it.
    phone = open_page(PHONE, phone=True, dark=True)
    phone.page.goto(detail_url)  # a deep link signs in first, then shows what it links to
    phone.page.wait_for_selector('[data-testid="signin-form"]')
    assert phone.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "horizontal overflow"
    phone.page.screenshot(path=str(artifacts / "signin-phone.png"))
    sign_in(phone.page, local_system, detail_url)
    phone.page.wait_for_selector('[data-testid="insight-detail"]')
    phone.page.goto(local_system.url + "/insights")
    phone.page.wait_for_selector(card)
    phone.page.wait_for_timeout(6_000)  # one more poll
    assert phone.page.locator('[data-testid="toast"]').count() == 0
    phone.page.screenshot(path=str(artifacts / "feed-phone.png"))
    assert phone.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "horizontal overflow"
    phone.page.goto(f"{local_system.url}/hosts/{host}")
    phone.page.wait_for_selector('[data-testid="anomaly-marker"]')
    phone.page.wait_for_timeout(500)  # charts measure their container, then redraw
    phone.page.screenshot(path=str(artifacts / "host-chart-phone.png"), full_page=True)
    assert phone.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "horizontal overflow"
    assert phone.errors == []


def test_status_turns_to_error_after_three_failed_polls_and_recovers(
    local_system: LocalSystem, open_page: Any, artifacts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SwitchableProxy(local_system.url) as proxy:
        probe = open_page()
        page = probe.page
        # The proxy's config.json points the app, and its sign-in, at the proxy.
        sign_in(page, local_system, proxy.url + "/insights")
        wait_status(page, "connected", 15)
        assert proxy.poll_count("answered") >= 1

        proxy.set_failing(True)
        deadline = time.monotonic() + 20
        while proxy.poll_count("failed") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proxy.poll_count("failed") == 2
        page.wait_for_timeout(1_000)  # let the page process the second failure
        assert status_of(page) == "connected", "two failed polls must not flip the status"

        wait_status(page, "error", 12)
        assert proxy.poll_count("failed") >= 3
        assert "Connection error" in page.inner_text(STATUS)
        page.wait_for_selector('[data-testid="stale-banner"]')
        page.screenshot(path=str(artifacts / "status-error.png"))

        proxy.set_failing(False)
        recovered = wait_status(page, "connected", 10)
        report(capsys, artifacts, "error_to_connected_after_api_returns_s", recovered)
        assert "Connected" in page.inner_text(STATUS)
        assert page.locator('[data-testid="stale-banner"]').count() == 0
