import { describe, expect, it } from "vitest";
import type { MetricPoint } from "../api/types";
import { makeIncident, makeInsight } from "../test/fixtures";
import { fleetHosts, lastReported, sparkPath } from "./fleet";

const point = (hostname: string, timestamp: string): MetricPoint => ({ hostname, timestamp, values: { cpuUsage: 1 } });

describe("fleet", () => {
  it("lists hosts from the scan, the unresolved incidents and the insights; troubled hosts first", () => {
    const scan = [point("web-2", "2026-01-01T12:00:00Z"), point("web-1", "2026-01-01T12:00:00Z"), point("web-2", "2026-01-01T11:59:00Z")];
    const incidents = [
      makeIncident({ incident_id: "a", hosts: ["db-1"], severity: "MEDIUM" }),
      makeIncident({ incident_id: "b", hosts: ["web-2", "db-1"], severity: "CRITICAL", status: "acknowledged" }),
      makeIncident({ incident_id: "c", hosts: ["old-1"], status: "resolved" }),
    ];
    const insights = [makeInsight({ entity_id: "app-1", affected_hosts: ["app-2"] })];
    const hosts = fleetHosts(scan, incidents, insights);
    expect(hosts.map((h) => [h.hostname, h.worst, h.incidents.map((i) => i.incident_id)])).toEqual([
      ["db-1", "CRITICAL", ["b", "a"]],
      ["web-2", "CRITICAL", ["b"]],
      ["app-1", null, []],
      ["app-2", null, []],
      ["web-1", null, []],
    ]);
  });

  it("knows when a host last reported, whatever the order of its points", () => {
    expect(lastReported([point("h", "2026-01-01T11:00:00Z"), point("h", "2026-01-01T12:00:00Z"), point("h", "bad")])).toBe(
      Date.parse("2026-01-01T12:00:00Z"),
    );
    expect(lastReported([])).toBeNull();
  });

  it("draws a sparkline across the box, min at the bottom and max at the top", () => {
    expect(sparkPath([{ t: 0, v: 5 }, { t: 1, v: 10 }, { t: 2, v: 0 }], 100, 20, 0)).toBe("M0.0,10.0L50.0,0.0L100.0,20.0");
    expect(sparkPath([], 100, 20)).toBe("");
  });
});
