import { describe, expect, it } from "vitest";
import type { MetricPoint } from "../api/types";
import { makeInsight } from "../test/fixtures";
import { formatTick, linePath, linearScale, niceTicks, timeDomain, timeTicks, valueDomain } from "./chart";
import { extractSeries, markersFor } from "./series";

const at = (min: number) => new Date(Date.UTC(2026, 0, 1, 12, min)).toISOString();
const t = (min: number) => Date.UTC(2026, 0, 1, 12, min);
const point = (min: number, values: Record<string, number>): MetricPoint => ({ hostname: "h", timestamp: at(min), values });

describe("series", () => {
  it("splits newest-first points into ascending series, the usual metrics first", () => {
    const series = extractSeries([point(2, { zeta: 1, cpuUsage: 30 }), point(1, { memoryUsage: 5, cpuUsage: 20, alpha: 0 })]);
    expect([...series.keys()]).toEqual(["cpuUsage", "memoryUsage", "alpha", "zeta"]);
    expect(series.get("cpuUsage")).toEqual([{ t: t(1), v: 20 }, { t: t(2), v: 30 }]);
  });

  it("places anomalies on their metric's chart, unplaceable ones on every chart, and skips out-of-range", () => {
    const cpu = makeInsight({ alert_id: "cpu", metric: "cpuUsage", observed: 99, timestamp: at(5) });
    const noMetric = makeInsight({ alert_id: "pattern", metric: null, observed: null, timestamp: at(6) });
    const otherMetric = makeInsight({ alert_id: "mem", metric: "memoryUsage", timestamp: at(7) });
    const old = makeInsight({ alert_id: "old", metric: "cpuUsage", timestamp: at(-90) });
    const known = new Set(["cpuUsage", "memoryUsage"]);
    const markers = markersFor("cpuUsage", [otherMetric, noMetric, cpu, old], known, t(0), t(60));
    expect(markers.map((m) => [m.insight.alert_id, m.t, m.v])).toEqual([
      ["cpu", t(5), 99],
      ["pattern", t(6), null],
    ]);
  });
});

describe("chart geometry", () => {
  it("scales linearly and survives a zero-width domain", () => {
    const x = linearScale([0, 10], [100, 200]);
    expect([x(0), x(5), x(10)]).toEqual([100, 150, 200]);
    expect(linearScale([3, 3], [0, 10])(3)).toBe(5);
  });

  it("makes round ticks", () => {
    expect(niceTicks(0, 100, 4)).toEqual([0, 25, 50, 75, 100]);
    expect(niceTicks(0, 1.05, 4)).toEqual([0, 0.5, 1]);
    expect(niceTicks(5, 5)).toEqual([5]);
  });

  it("includes zero and the anomaly values in the y domain", () => {
    expect(valueDomain([{ t: 0, v: 10 }, { t: 1, v: 12 }], [99])).toEqual([0, 99 + 99 * 0.05]);
    expect(valueDomain([])).toEqual([0, 1]);
  });

  it("breaks the line across gaps in the data", () => {
    const id = (v: number) => v;
    const pts = [0, 1, 2, 10, 11].map((m) => ({ t: m, v: m }));
    expect(linePath(pts, id, id)).toBe("M0.0,0.0L1.0,1.0L2.0,2.0M10.0,10.0L11.0,11.0");
    expect(linePath([], id, id)).toBe("");
  });
});

describe("chart axes", () => {
  it("labels ticks with the decimals their step needs", () => {
    expect([0, 25, 100].map((v) => formatTick(v, 25))).toEqual(["0", "25", "100"]);
    expect(formatTick(0.5, 0.5)).toBe("0.5");
    expect(formatTick(20, 2.5)).toBe("20.0");
    expect(formatTick(1, 0.25)).toBe("1.00");
  });

  it("puts time ticks on round minutes", () => {
    const from = t(3);
    const to = t(63);
    expect(timeTicks(from, to, 4)).toEqual([t(15), t(30), t(45), t(60)]);
    expect(timeTicks(from, to, 6)).toEqual([t(10), t(20), t(30), t(40), t(50), t(60)]);
    expect(timeTicks(from, to, 0)).toEqual([]);
    expect(timeTicks(to, from, 5)).toEqual([]);
  });

  it("starts the time domain at the oldest point when the data is younger than the window", () => {
    const s = [[{ t: t(30), v: 1 }], [{ t: t(20), v: 1 }], []];
    expect(timeDomain(s, t(0), t(60))).toEqual([t(20), t(60)]);
    expect(timeDomain([[{ t: t(-10), v: 1 }]], t(0), t(60))).toEqual([t(0), t(60)]);
    expect(timeDomain([], t(0), t(60))).toEqual([t(0), t(60)]);
  });
});
