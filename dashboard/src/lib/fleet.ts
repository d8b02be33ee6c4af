import type { Incident } from "../api/incidents";
import { SEVERITIES, type Insight, type MetricPoint, type Severity } from "../api/types";
import { linePath, linearScale } from "./chart";
import { hostsOf } from "./filters";
import type { SeriesPoint } from "./series";
import { parseTime } from "./time";

export interface FleetHost {
  hostname: string;
  /** Its open and acknowledged incidents, most severe first. */
  incidents: Incident[];
  worst: Severity | null;
}

/**
 * Every host we know of: those in one scan page of `GET /metrics`, those of the open and
 * acknowledged incidents and those of the recent insights. Hosts with unresolved incidents
 * come first (most severe first), then by name.
 */
export function fleetHosts(scan: readonly MetricPoint[], incidents: readonly Incident[], insights: readonly Insight[]): FleetHost[] {
  const hosts = new Map<string, Incident[]>();
  const add = (h: string) => {
    if (h !== "" && !hosts.has(h)) hosts.set(h, []);
  };
  scan.forEach((p) => add(p.hostname));
  hostsOf(insights).forEach(add);
  for (const incident of incidents) {
    if (incident.status === "resolved") continue;
    for (const h of incident.hosts) {
      add(h);
      hosts.get(h)?.push(incident);
    }
  }
  const rank = (s: Severity | null) => (s === null ? SEVERITIES.length : SEVERITIES.indexOf(s));
  return [...hosts.entries()]
    .map(([hostname, list]) => {
      const sorted = [...list].sort((a, b) => rank(a.severity) - rank(b.severity));
      return { hostname, incidents: sorted, worst: sorted[0]?.severity ?? null };
    })
    .sort((a, b) => rank(a.worst) - rank(b.worst) || a.hostname.localeCompare(b.hostname));
}

/** A sparkline's path in a width x height box (time on x, min..max of the values on y). */
export function sparkPath(points: readonly SeriesPoint[], width: number, height: number, pad = 2): string {
  const first = points[0];
  const last = points[points.length - 1];
  if (!first || !last) return "";
  const values = points.map((p) => p.v);
  const x = linearScale([first.t, last.t], [pad, width - pad]);
  const y = linearScale([Math.min(...values), Math.max(...values)], [height - pad, pad]);
  return linePath(points, x, y);
}

/** When a host last reported: its newest point's time (ms), or null without points. */
export function lastReported(points: readonly MetricPoint[]): number | null {
  let newest: number | null = null;
  for (const p of points) {
    const t = parseTime(p.timestamp);
    if (t !== null && (newest === null || t > newest)) newest = t;
  }
  return newest;
}
