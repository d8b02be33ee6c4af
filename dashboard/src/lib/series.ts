import type { Insight, MetricPoint } from "../api/types";
import { parseTime } from "./time";

export interface SeriesPoint {
  t: number;
  v: number;
}

export interface Marker {
  t: number;
  /** Where to draw the dot; null when the insight has no value for this metric (vertical rule). */
  v: number | null;
  insight: Insight;
}

const PREFERRED = ["cpuUsage", "memoryUsage", "diskIO", "networkIO"];

function metricOrder(a: string, b: string): number {
  const ia = PREFERRED.indexOf(a);
  const ib = PREFERRED.indexOf(b);
  if (ia !== -1 || ib !== -1) return (ia === -1 ? Infinity : ia) - (ib === -1 ? Infinity : ib);
  return a.localeCompare(b);
}

/** One time-ascending series per numeric metric; the usual four first, then alphabetical. */
export function extractSeries(points: readonly MetricPoint[]): Map<string, SeriesPoint[]> {
  const byMetric = new Map<string, SeriesPoint[]>();
  for (const p of points) {
    const t = parseTime(p.timestamp);
    if (t === null) continue;
    for (const [name, v] of Object.entries(p.values)) {
      let list = byMetric.get(name);
      if (!list) byMetric.set(name, (list = []));
      list.push({ t, v });
    }
  }
  const names = [...byMetric.keys()].sort(metricOrder);
  return new Map(names.map((n) => [n, (byMetric.get(n) ?? []).sort((a, b) => a.t - b.t)]));
}

/**
 * Anomaly markers for one metric's chart within [from, to]: insights about this metric get a
 * dot at their observed value; insights about no known metric get a vertical rule on every
 * chart (`v: null`), so nothing the detectors found is hidden.
 */
export function markersFor(
  metric: string,
  insights: readonly Insight[],
  knownMetrics: ReadonlySet<string>,
  from: number,
  to: number,
): Marker[] {
  const markers: Marker[] = [];
  for (const insight of insights) {
    const t = parseTime(insight.timestamp);
    if (t === null || t < from || t > to) continue;
    if (insight.metric === metric) markers.push({ t, v: insight.observed, insight });
    else if (insight.metric === null || !knownMetrics.has(insight.metric)) markers.push({ t, v: null, insight });
  }
  return markers.sort((a, b) => a.t - b.t);
}
