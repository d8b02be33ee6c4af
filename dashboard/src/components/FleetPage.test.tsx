// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeIncident, makeInsight, routedFetch } from "../test/fixtures";
import { renderWithApi } from "../test/render";
import { FleetPage, SCAN_LIMIT, SPARK_POINTS } from "./FleetPage";

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const points = (host: string, newestAgoMs: number, n: number, extra: Record<string, number> = {}) =>
  Array.from({ length: n }, (_, i) => ({ hostname: host, timestamp: ago(newestAgoMs + i * 60_000), cpuUsage: 10 + i, memoryUsage: 40, ...extra }));

type View = Awaited<ReturnType<typeof renderWithApi>>;
let view: View;

beforeEach(() => {
  (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
});
afterEach(() => view.unmount());

describe("fleet page", () => {
  it("lists every host with when it last reported, its open incidents and sparklines", async () => {
    const perHost: Record<string, unknown[]> = {
      "web-1": points("web-1", 30_000, 5, { diskIO: 1, networkIO: 2, gpuTemp: 50 }),
      "web-2": points("web-2", 20 * 60_000, 3),
      "db-1": [],
    };
    const { fetchImpl, calls } = routedFetch((_call, path, q) => {
      if (path === "/metrics" && !q.has("hostname")) return { metrics: [...points("web-1", 30_000, 2), ...points("web-2", 20 * 60_000, 1)], nextToken: "more" };
      if (path === "/metrics") return { metrics: perHost[q.get("hostname") ?? ""] ?? [], nextToken: null };
      if (path === "/incidents") {
        const all = [makeIncident({ incident_id: "i1", hosts: ["db-1"], severity: "CRITICAL" }), makeIncident({ incident_id: "i2", hosts: ["db-1"], status: "acknowledged" }), makeIncident({ incident_id: "i3", hosts: ["web-2"], status: "resolved" })];
        return { incidents: all.filter((i) => i.status === q.get("status")), nextToken: null };
      }
      return new Response("{}", { status: 404 });
    });
    view = await renderWithApi(<FleetPage insights={[makeInsight({ entity_id: "app-1", affected_hosts: [] })]} />, fetchImpl);
    const row = (h: string) => view.$(`[data-testid="fleet-host"][data-host="${h}"]`);
    await view.until(() => expect(row("web-1")?.querySelectorAll('[data-testid="sparkline"]')).toHaveLength(4));
    await view.until(() => expect(row("db-1")?.querySelector('[data-testid="last-reported"]')?.textContent).toBe("no metrics"));

    expect(view.$$('[data-testid="fleet-host"]').map((r) => r.dataset.host)).toEqual(["db-1", "app-1", "web-1", "web-2"]);
    expect(view.$('[data-testid="host-count"]')?.textContent).toBe("4 hosts");
    expect(row("db-1")?.querySelector('[data-testid="open-incidents"]')?.textContent).toBe("CRITICAL 1 open · 1 acknowledged");
    expect(row("web-2")?.querySelector('[data-testid="open-incidents"]')).toBeNull(); // its incident is resolved
    expect(row("web-1")?.querySelector('[data-testid="last-reported"]')?.textContent).toBe("reported 30 s ago");
    await view.until(() => expect(row("web-2")?.querySelector('[data-testid="last-reported"]')?.textContent).toBe("silent, last reported 20 min ago"));
    const sparks = [...(row("web-1")?.querySelectorAll<HTMLElement>('[data-testid="sparkline"]') ?? [])];
    expect(sparks.map((s) => [s.dataset.metric, s.dataset.points])).toEqual([
      ["cpuUsage", "5"],
      ["memoryUsage", "5"],
      ["diskIO", "5"],
      ["networkIO", "5"],
    ]);
    expect(sparks[0]?.querySelector("path")?.getAttribute("d")).toMatch(/^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+){4}$/);
    expect(row("web-1")?.textContent).toContain("+1 more");
    expect(view.container.textContent).toContain(`newest ${SCAN_LIMIT} points of one scan`);

    const urls = calls.map((c) => new URL(c.url));
    expect(urls.filter((u) => u.pathname === "/metrics" && !u.searchParams.has("hostname")).map((u) => u.search)).toEqual([`?limit=${SCAN_LIMIT}`]);
    expect(urls.find((u) => u.searchParams.get("hostname") === "web-1")?.search).toBe(`?hostname=web-1&limit=${SPARK_POINTS}`);
  });

  it("still lists the hosts reporting metrics when the incidents route fails", async () => {
    const { fetchImpl } = routedFetch((_call, path, q) =>
      path === "/incidents" ? new Response(JSON.stringify({ message: "Not found" }), { status: 404 }) : { metrics: q.has("hostname") ? [] : points("web-9", 0, 1), nextToken: null },
    );
    view = await renderWithApi(<FleetPage insights={[]} />, fetchImpl);
    await view.until(() => expect(view.container.textContent).toContain("Open incidents unavailable: Not found"));
    expect(view.$$('[data-testid="fleet-host"]').map((r) => r.dataset.host)).toEqual(["web-9"]);
  });
});
