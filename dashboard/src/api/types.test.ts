import { describe, expect, it } from "vitest";
import { wireInsight } from "../test/fixtures";
import { parseInsight, parseInsightList, parseMetrics, severityFromRisk } from "./types";

describe("insight parsing", () => {
  it("keeps a complete insight as is", () => {
    const raw = wireInsight({ alert_id: "x", eta: "2026-01-01T13:00:00Z", limit: 95 });
    expect(parseInsight(raw)).toEqual(raw);
  });

  it("drops items without id or timestamp", () => {
    expect(parseInsight({ timestamp: "2026-01-01T00:00:00Z" })).toBeNull();
    expect(parseInsight({ alert_id: "x" })).toBeNull();
    expect(parseInsight("nope")).toBeNull();
  });

  it("fills gaps leniently: severity from risk, numbers from strings, lists default to empty", () => {
    const i = parseInsight({ alert_id: "x", timestamp: "t", risk_score: "91", severity: "bogus", observed: "3.5", recommendations: ["a", 1] });
    expect(i).toMatchObject({ severity: "CRITICAL", risk_score: 91, observed: 3.5, recommendations: ["a"], affected_hosts: [], expected: null });
    expect(parseInsight({ alert_id: "x", timestamp: "t", severity: "high" })?.severity).toBe("HIGH");
  });

  it("maps risk to severity at the alerting thresholds", () => {
    expect([10, 50, 79, 80, 89, 90].map(severityFromRisk)).toEqual(["LOW", "MEDIUM", "MEDIUM", "HIGH", "HIGH", "CRITICAL"]);
  });

  it("accepts a bare array or {insights: [...]}, and rejects anything else", () => {
    const a = wireInsight({ alert_id: "a" });
    expect(parseInsightList([a, { junk: 1 }]).map((i) => i.alert_id)).toEqual(["a"]);
    expect(parseInsightList({ insights: [a], nextToken: null }).map((i) => i.alert_id)).toEqual(["a"]);
    expect(() => parseInsightList({ message: "Internal error" })).toThrow();
  });
});

describe("metrics parsing", () => {
  it("keeps numeric fields only, and flags truncation", () => {
    const parsed = parseMetrics({
      hostname: "h",
      metrics: [{ hostname: "h", timestamp: "2026-01-01T00:00:00Z", cpuUsage: 12.5, ibLatency: 3, note: "x", flag: true }],
      nextToken: "abc",
    });
    expect(parsed.points).toEqual([{ hostname: "h", timestamp: "2026-01-01T00:00:00Z", values: { cpuUsage: 12.5, ibLatency: 3 } }]);
    expect(parsed.truncated).toBe(true);
    expect(parseMetrics({ metrics: [], nextToken: null }).truncated).toBe(false);
  });

  it("converts epoch-second timestamps", () => {
    expect(parseMetrics({ metrics: [{ timestamp: 1767225600, cpuUsage: 1 }] }).points[0]?.timestamp).toBe("2026-01-01T00:00:00.000Z");
  });
});
