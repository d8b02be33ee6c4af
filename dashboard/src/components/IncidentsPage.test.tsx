// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Incident, Silence } from "../api/incidents";
import { POLL_INTERVAL_MS } from "../lib/polling";
import { makeIncident, routedFetch, wireInsight, type FakeCall } from "../test/fixtures";
import { renderWithApi } from "../test/render";
import { IncidentsPage } from "./IncidentsPage";

const HOUR = 3_600_000;
const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();

/** An API with incidents, silences and feedback in memory; `fail` makes a route answer 500. */
function fakeBackend(incidents: Incident[]) {
  const state = { incidents, silences: [] as Silence[], fail: new Set<string>() };
  const error = (status: number, message: string) => new Response(JSON.stringify({ message }), { status });
  const { fetchImpl, calls } = routedFetch((call: FakeCall, path, q) => {
    const route = `${call.method} ${path.replace(/\/incidents\/[^/]+/, "/incidents/{id}")}`;
    if (state.fail.has(route)) return error(500, "boom");
    if (route === "GET /incidents") return { incidents: state.incidents.filter((i) => i.status === q.get("status")), nextToken: null };
    const id = decodeURIComponent(path.split("/")[2] ?? "");
    const incident = state.incidents.find((i) => i.incident_id === id);
    if (path.startsWith("/incidents/") && !incident) return error(404, "incident not found");
    if (incident && route === "GET /incidents/{id}") {
      return { ...incident, insights: incident.insight_ids.map((a, n) => wireInsight({ alert_id: a, timestamp: iso((n + 1) * 60_000), explanation: `finding ${a}` })) };
    }
    if (incident && (route === "POST /incidents/{id}/ack" || route === "POST /incidents/{id}/resolve")) {
      const status = route.endsWith("/ack") ? "acknowledged" : "resolved";
      const updated: Incident = { ...incident, status, updated_at: new Date().toISOString(), resolved_at: status === "resolved" ? new Date().toISOString() : null };
      state.incidents = state.incidents.map((i) => (i.incident_id === id ? updated : i));
      return updated;
    }
    if (route === "GET /silences") return { silences: state.silences };
    if (route === "POST /silences") {
      const silence = { ...(call.body as Omit<Silence, "silence_id">), silence_id: `s${state.silences.length + 1}` };
      state.silences.push(silence);
      return silence;
    }
    if (call.method === "DELETE" && path.startsWith("/silences/")) {
      state.silences = state.silences.filter((s) => s.silence_id !== path.split("/")[2]);
      return new Response(null, { status: 204 });
    }
    if (call.method === "POST" && /^\/insights\/[^/]+\/feedback$/.test(path)) return { ok: true };
    return error(404, `no route ${route}`);
  });
  return { state, fetchImpl, calls };
}

type View = Awaited<ReturnType<typeof renderWithApi>>;
let view: View;

const card = (id: string) => view.$(`[data-testid="incident-card"][data-incident-id="${id}"]`);
const cardOrder = () => view.$$('[data-testid="incident-card"]').map((c) => `${c.dataset.incidentId}:${c.dataset.status}`);
const posts = (calls: FakeCall[]) => calls.filter((c) => c.method !== "GET").map((c) => `${c.method} ${new URL(c.url).pathname}`);

beforeEach(() => {
  (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
  vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] }); // the 5 s poll; promises and timeouts stay real
});
afterEach(() => {
  view.unmount();
  vi.useRealTimers();
});

describe("incidents page", () => {
  const board = () => [
    makeIncident({ incident_id: "resolved-1", status: "resolved", resolved_at: iso(HOUR), insight_ids: ["r1"] }),
    makeIncident({ incident_id: "ack-1", status: "acknowledged", severity: "CRITICAL", insight_ids: ["k1"], insight_count: 3, acknowledged_by: "alice", summary: "cpuUsage high on web-1" }),
    makeIncident({ incident_id: "open-1", severity: "MEDIUM", opened_at: iso(60_000), insight_ids: ["a2", "a1"] }),
    makeIncident({ incident_id: "open-2", severity: "CRITICAL", opened_at: iso(120_000), hosts: ["web-1", "web-2"], insight_ids: ["b1"] }),
  ];

  it("shows open incidents first, then acknowledged, then resolved, with the timelines of the unresolved ones", async () => {
    const api = fakeBackend(board());
    view = await renderWithApi(<IncidentsPage />, api.fetchImpl);
    await view.until(() => expect(view.$$('[data-testid="timeline-insight"]')).toHaveLength(4));
    expect(cardOrder()).toEqual(["open-2:open", "open-1:open", "ack-1:acknowledged", "resolved-1:resolved"]);
    expect(view.$$(".section-title").map((h) => h.textContent)).toEqual(["Open (2)", "Acknowledged (1)", "Resolved in the last 24 h (1)"]);
    expect(card("ack-1")?.textContent).toContain("by alice");
    expect(card("ack-1")?.textContent).toContain("cpuUsage high on web-1");
    expect(card("ack-1")?.textContent).toContain("The newest 1 of 3 insights");
    const open1 = card("open-1");
    expect([...(open1?.querySelectorAll<HTMLElement>('[data-testid="timeline-insight"]') ?? [])].map((e) => e.dataset.alertId)).toEqual(["a1", "a2"]);
    // A resolved incident has no actions and its timeline waits for a click.
    expect(card("resolved-1")?.querySelector(".actions")).toBeNull();
    expect(api.calls.some((c) => c.url.endsWith("/incidents/resolved-1"))).toBe(false);
    await view.click("Show the timeline (1 insight)", card("resolved-1") ?? undefined);
    await view.until(() => expect(card("resolved-1")?.textContent).toContain("finding r1"));
    // Every request carried the ID token.
    expect(api.calls.every((c) => c.authorization === "id-token-1")).toBe(true);
  });

  it("highlights the incident a notification links to (/incidents/{id}), its timeline open even when resolved", async () => {
    const api = fakeBackend(board());
    view = await renderWithApi(<IncidentsPage focus="resolved-1" />, api.fetchImpl);
    await view.until(() => expect(card("resolved-1")?.textContent).toContain("finding r1"));
    expect(card("resolved-1")?.classList.contains("focused")).toBe(true);
    expect(card("resolved-1")?.getAttribute("aria-current")).toBe("true");
    expect(view.$$(".incident.focused")).toHaveLength(1);
    expect(view.$('[data-testid="focus-missing"]')).toBeNull();
  });

  it("says so when the linked incident is not on the board", async () => {
    const api = fakeBackend(board());
    view = await renderWithApi(<IncidentsPage focus="inc-gone" />, api.fetchImpl);
    await view.until(() => expect(view.$('[data-testid="focus-missing"]')?.textContent).toContain("inc-gone"));
    expect(view.$$(".incident.focused")).toHaveLength(0);
  });

  it("acknowledges: POST, the card moves to Acknowledged, the list is refetched; then resolves", async () => {
    const api = fakeBackend(board());
    view = await renderWithApi(<IncidentsPage />, api.fetchImpl);
    await view.until(() => expect(card("open-1")).not.toBeNull());
    const listFetches = () => api.calls.filter((c) => c.method === "GET" && new URL(c.url).pathname === "/incidents").length;
    const before = listFetches();
    await view.click("Acknowledge", card("open-1") ?? undefined);
    await view.until(() => expect(card("open-1")?.dataset.status).toBe("acknowledged"));
    expect(cardOrder()).toEqual(["open-2:open", "ack-1:acknowledged", "open-1:acknowledged", "resolved-1:resolved"]);
    expect(posts(api.calls)).toEqual(["POST /incidents/open-1/ack"]);
    await view.until(() => expect(listFetches()).toBe(before + 3)); // refetched after the change (3 status pages)
    expect([...(card("open-1")?.querySelectorAll("button") ?? [])].map((b) => b.textContent)).not.toContain("Acknowledge");

    await view.click("Resolve", card("open-1") ?? undefined);
    await view.until(() => expect(card("open-1")?.dataset.status).toBe("resolved"));
    expect(posts(api.calls)).toEqual(["POST /incidents/open-1/ack", "POST /incidents/open-1/resolve"]);
    expect(view.$('[data-testid="section-resolved"]')?.textContent).toBe("Resolved in the last 24 h (2)");
  });

  it("shows a failed action on the card and leaves the incident as it was", async () => {
    const api = fakeBackend(board());
    api.state.fail.add("POST /incidents/{id}/ack");
    view = await renderWithApi(<IncidentsPage />, api.fetchImpl);
    await view.until(() => expect(card("open-1")).not.toBeNull());
    await view.click("Acknowledge", card("open-1") ?? undefined);
    await view.until(() => expect(card("open-1")?.querySelector('[data-testid="incident-error"]')?.textContent).toBe("Couldn't acknowledge: boom"));
    expect(card("open-1")?.dataset.status).toBe("open");
  });

  it("silences the chosen host for 4 h, shows it, and removes the silence", async () => {
    const api = fakeBackend(board());
    view = await renderWithApi(<IncidentsPage />, api.fetchImpl);
    await view.until(() => expect(card("open-2")).not.toBeNull());
    const select = card("open-2")?.querySelector<HTMLSelectElement>('[data-testid="silence-host"]');
    expect([...(select?.options ?? [])].map((o) => o.value)).toEqual(["web-1", "web-2"]);
    await view.input(select, "web-2");
    const t0 = Date.now();
    await view.click("4 h", card("open-2") ?? undefined);
    await view.until(() => expect(card("open-2")?.querySelector('[data-testid="silenced"]')?.textContent).toMatch(/^web-2 silenced until/));
    const body = api.calls.find((c) => c.method === "POST")?.body as Silence;
    expect(body).toMatchObject({ host: "web-2", metric: "*" });
    expect(Date.parse(body.ends_at) - Date.parse(body.starts_at)).toBe(4 * HOUR);
    expect(Math.abs(Date.parse(body.starts_at) - t0)).toBeLessThan(5_000);
    expect(view.$$('[data-testid="silence"]').map((s) => s.dataset.host)).toEqual(["web-2"]);

    await view.click("Remove");
    await view.until(() => expect(view.$('[data-testid="silences"]')).toBeNull());
    expect(posts(api.calls)).toEqual(["POST /silences", "DELETE /silences/s1"]);
    expect(card("open-2")?.querySelector('[data-testid="silenced"]')).toBeNull();
  });

  it("sends feedback on one insight with its comment", async () => {
    const api = fakeBackend(board());
    view = await renderWithApi(<IncidentsPage />, api.fetchImpl);
    await view.until(() => expect(view.$('[data-testid="timeline-insight"][data-alert-id="a1"]')).not.toBeNull());
    const item = view.$('[data-testid="timeline-insight"][data-alert-id="a1"]') ?? undefined;
    await view.input(item?.querySelector<HTMLInputElement>('input[name="comment"]'), " nightly batch ");
    await view.click("Expected change", item);
    await view.until(() => expect(item?.querySelector('[data-testid="feedback-sent"]')?.textContent).toContain("Thanks: marked “Expected change”"));
    const sent = api.calls.filter((c) => c.url.endsWith("/feedback"));
    expect(sent.map((c) => [new URL(c.url).pathname, c.body])).toEqual([["/insights/a1/feedback", { verdict: "expected_change", comment: "nightly batch" }]]);
    // The other insights still offer all four verdicts.
    expect(view.$$('[data-testid="feedback"]')).toHaveLength(3);
  });

  it("polls every 5 s and keeps the last list on screen with a banner when a poll fails", async () => {
    const api = fakeBackend(board());
    view = await renderWithApi(<IncidentsPage />, api.fetchImpl);
    await view.until(() => expect(card("open-1")).not.toBeNull());
    api.state.incidents = [...api.state.incidents, makeIncident({ incident_id: "open-new", severity: "CRITICAL" })];
    await view.tick(POLL_INTERVAL_MS);
    await view.until(() => expect(card("open-new")).not.toBeNull());
    api.state.fail.add("GET /incidents");
    await view.tick(POLL_INTERVAL_MS);
    await view.until(() => expect(view.$('[data-testid="incidents-stale"]')?.textContent).toContain("boom"));
    expect(card("open-new")).not.toBeNull();
  });

  it("says so when there are no incidents, and shows the error when the route fails from the start", async () => {
    const empty = fakeBackend([]);
    view = await renderWithApi(<IncidentsPage />, empty.fetchImpl);
    await view.until(() => expect(view.$('[data-testid="empty-incidents"]')).not.toBeNull());
    view.unmount();

    const broken = fakeBackend([]);
    broken.state.fail.add("GET /incidents");
    view = await renderWithApi(<IncidentsPage />, broken.fetchImpl);
    await view.until(() => expect(view.$('[data-testid="error-state"]')?.textContent).toContain("Couldn't load incidents"));
    expect(view.$('[data-testid="error-state"]')?.textContent).toContain("boom");
  });
});
