import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import { createApiClient } from "../api/client";
import type { Silence } from "../api/incidents";
import { fixedTokens, makeIncident, makeInsight, routedFetch } from "../test/fixtures";
import { activeSilence, globMatch, groupByStatus, incidentsQuery, mergeIncidents, silenceFor, sortIncidents, timeline, withIncident } from "./incidents";

const at = (min: number) => new Date(Date.UTC(2026, 0, 1, 12, min)).toISOString();
const ids = (list: readonly { incident_id: string }[]) => list.map((i) => i.incident_id);

describe("incident order", () => {
  it("puts open first (most severe, then newest), then acknowledged, then the most recently resolved", () => {
    const list = [
      makeIncident({ incident_id: "res-old", status: "resolved", resolved_at: at(1) }),
      makeIncident({ incident_id: "ack", status: "acknowledged", severity: "CRITICAL" }),
      makeIncident({ incident_id: "open-low", severity: "LOW", opened_at: at(9) }),
      makeIncident({ incident_id: "res-new", status: "resolved", resolved_at: at(5) }),
      makeIncident({ incident_id: "open-high-old", severity: "HIGH", opened_at: at(1) }),
      makeIncident({ incident_id: "open-high-new", severity: "HIGH", opened_at: at(2) }),
    ];
    expect(ids(sortIncidents(list))).toEqual(["open-high-new", "open-high-old", "open-low", "ack", "res-new", "res-old"]);
    const groups = groupByStatus(list);
    expect([ids(groups.open), ids(groups.acknowledged), ids(groups.resolved)]).toEqual([
      ["open-high-new", "open-high-old", "open-low"],
      ["ack"],
      ["res-new", "res-old"],
    ]);
  });

  it("merges per-status pages, keeping the copy updated last of an incident in two of them", () => {
    const before = makeIncident({ incident_id: "x", status: "open", updated_at: at(1) });
    const after = makeIncident({ incident_id: "x", status: "acknowledged", updated_at: at(2) });
    expect(mergeIncidents([before], [after], [])).toEqual([after]);
    expect(mergeIncidents([after], [before])).toEqual([after]);
  });

  it("replaces one incident with a mutation's answer and re-sorts", () => {
    const a = makeIncident({ incident_id: "a", severity: "CRITICAL" });
    const b = makeIncident({ incident_id: "b" });
    const board = withIncident({ incidents: [a, b], more: false }, { ...a, status: "acknowledged" });
    expect(board.incidents.map((i) => [i.incident_id, i.status])).toEqual([
      ["b", "open"],
      ["a", "acknowledged"],
    ]);
  });

  it("orders a timeline by time", () => {
    const late = makeInsight({ alert_id: "late", timestamp: at(9) });
    const early = makeInsight({ alert_id: "early", timestamp: at(1) });
    expect(timeline([late, early]).map((i) => i.alert_id)).toEqual(["early", "late"]);
  });
});

describe("silences", () => {
  const silence = (host: string, from: number, to: number, metric = "*"): Silence => ({
    silence_id: `${host}-${to}`,
    host,
    metric,
    starts_at: at(from),
    ends_at: at(to),
    comment: "",
  });

  it("matches host patterns with * only", () => {
    expect(globMatch("web-*", "web-12")).toBe(true);
    expect(globMatch("web-*", "db-1")).toBe(false);
    expect(globMatch("web.1", "webx1")).toBe(false);
    expect(globMatch("*", "anything")).toBe(true);
    expect(globMatch("ib/*", "ib/stream-1")).toBe(true);
  });

  it("finds the active all-metric silence of a host that lasts longest", () => {
    const now = Date.parse(at(30));
    const list = [silence("web-*", 0, 40), silence("web-1", 0, 90), silence("web-1", 0, 120, "cpuUsage"), silence("web-1", 35, 200), silence("web-1", 0, 20)];
    expect(activeSilence(list, "web-1", now)?.silence_id).toBe("web-1-90");
    expect(activeSilence(list, "web-2", now)?.silence_id).toBe("web-*-40");
    expect(activeSilence(list, "db-1", now)).toBeNull();
  });

  it("silences a host exactly, every metric, from now for N hours", () => {
    expect(silenceFor("web-1", 4, Date.parse(at(0)), "inc-9")).toEqual({
      host: "web-1",
      metric: "*",
      starts_at: "2026-01-01T12:00:00.000Z",
      ends_at: "2026-01-01T16:00:00.000Z",
      comment: "Silenced for 4 h from the dashboard (incident inc-9)",
    });
  });
});

describe("incidents query", () => {
  it("asks for open, acknowledged and the last 24 h of resolved incidents, and flags more pages", async () => {
    const { fetchImpl, calls } = routedFetch((_call, _path, q) => ({
      incidents: [makeIncident({ incident_id: `i-${q.get("status") ?? ""}`, status: (q.get("status") ?? "open") as "open" })],
      nextToken: q.get("status") === "acknowledged" ? "next" : null,
    }));
    const api = createApiClient("http://h", fixedTokens().tokens, fetchImpl);
    const options = incidentsQuery(api, () => Date.parse("2026-01-02T12:00:00Z"));
    const board = await new QueryClient().fetchQuery(options);
    expect(calls.map((c) => c.url).sort()).toEqual([
      "http://h/incidents?status=acknowledged&limit=100",
      "http://h/incidents?status=open&limit=100",
      "http://h/incidents?status=resolved&since=2026-01-01T12%3A00%3A00.000Z&limit=25",
    ]);
    expect(board).toEqual({ incidents: [expect.objectContaining({ incident_id: "i-open" }), expect.objectContaining({ incident_id: "i-acknowledged" }), expect.objectContaining({ incident_id: "i-resolved" })], more: true });
  });
});
