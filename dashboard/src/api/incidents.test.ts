import { describe, expect, it } from "vitest";
import { parseIncident, parseIncidentPage, parseSilence, parseSilenceList } from "./incidents";

describe("incident parsing", () => {
  const wire = {
    incident_id: "inc-1",
    status: "open",
    severity: "CRITICAL",
    hosts: ["web-1", 7],
    metrics: ["cpuUsage"],
    opened_at: "2026-01-01T12:00:00Z",
    updated_at: "2026-01-01T12:05:00Z",
    resolved_at: null,
    insight_ids: ["a1", "a2"],
  };

  it("keeps a complete incident (non-strings dropped from lists) and the backend's extras", () => {
    expect(parseIncident(wire)).toEqual({ ...wire, hosts: ["web-1"], insight_count: 2, summary: "", acknowledged_by: null, resolved_by: null });
    const extras = { summary: "cpu on web-1", insight_count: 740, acknowledged_by: "alice", resolved_by: null, risk_score: 91 };
    expect(parseIncident({ ...wire, ...extras })).toMatchObject({ summary: "cpu on web-1", insight_count: 740, acknowledged_by: "alice" });
  });

  it("is lenient about case and missing fields, strict about id, status and opening time", () => {
    expect(parseIncident({ incident_id: "x", status: "ACKNOWLEDGED", severity: "medium", opened_at: "t" })).toEqual({
      incident_id: "x",
      status: "acknowledged",
      severity: "MEDIUM",
      hosts: [],
      metrics: [],
      opened_at: "t",
      updated_at: "t",
      resolved_at: null,
      insight_ids: [],
      insight_count: 0,
      summary: "",
      acknowledged_by: null,
      resolved_by: null,
    });
    expect(parseIncident({ ...wire, status: "closed" })).toBeNull();
    expect(parseIncident({ ...wire, incident_id: "" })).toBeNull();
    expect(parseIncident({ ...wire, opened_at: undefined })).toBeNull();
    expect(parseIncident({ ...wire, severity: "bogus" })?.severity).toBe("LOW");
  });

  it("reads a page and refuses a body that is not one", () => {
    expect(parseIncidentPage({ incidents: [wire, null], nextToken: null })).toEqual({ incidents: [parseIncident(wire)], nextToken: null });
    expect(() => parseIncidentPage([wire])).toThrow(/incidents/);
  });

  it("reads silences, defaulting metric to every metric", () => {
    const s = { silence_id: "s1", host: "web-*", starts_at: "a", ends_at: "b" };
    expect(parseSilence(s)).toEqual({ ...s, metric: "*", comment: "" });
    expect(parseSilence({ ...s, host: "" })).toBeNull();
    expect(parseSilenceList({ silences: [s, { silence_id: "s2" }] })).toHaveLength(1);
    expect(() => parseSilenceList({})).toThrow(/silences/);
  });
});
