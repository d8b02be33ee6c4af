import { keepPreviousData, queryOptions } from "@tanstack/react-query";
import type { ApiClient } from "../api/client";
import { INCIDENT_STATUSES, type Incident, type IncidentStatus, type NewSilence, type Silence } from "../api/incidents";
import { SEVERITIES, type Insight } from "../api/types";
import { parseTime } from "./time";

const OPEN_LIMIT = 100;
const RESOLVED_LIMIT = 25;
/** "Recently resolved": resolved within this window. */
const RESOLVED_WINDOW_MS = 24 * 3_600_000;
export const SILENCE_HOURS = [1, 4, 24] as const;
const HOUR = 3_600_000;

export interface IncidentBoard {
  incidents: Incident[];
  /** Some open or acknowledged incidents did not fit in one page. */
  more: boolean;
}

const time = (iso: string | null) => (iso === null ? 0 : (parseTime(iso) ?? 0));
const rank = (i: Incident) => SEVERITIES.indexOf(i.severity);

/**
 * The incidents page order: open, then acknowledged (each most severe first, then newest
 * opened), then resolved (most recently resolved first).
 */
export function sortIncidents(incidents: readonly Incident[]): Incident[] {
  return [...incidents].sort((a, b) => {
    const byStatus = INCIDENT_STATUSES.indexOf(a.status) - INCIDENT_STATUSES.indexOf(b.status);
    if (byStatus !== 0) return byStatus;
    if (a.status === "resolved") return time(b.resolved_at ?? b.updated_at) - time(a.resolved_at ?? a.updated_at);
    return rank(a) - rank(b) || time(b.opened_at) - time(a.opened_at);
  });
}

/**
 * One list from the per-status pages. An incident that changed status between the requests can
 * be in two of them: the copy updated last wins.
 */
export function mergeIncidents(...pages: readonly (readonly Incident[])[]): Incident[] {
  const byId = new Map<string, Incident>();
  for (const incident of pages.flat()) {
    const seen = byId.get(incident.incident_id);
    if (!seen || time(incident.updated_at) >= time(seen.updated_at)) byId.set(incident.incident_id, incident);
  }
  return sortIncidents([...byId.values()]);
}

export function groupByStatus(incidents: readonly Incident[]): Record<IncidentStatus, Incident[]> {
  const groups: Record<IncidentStatus, Incident[]> = { open: [], acknowledged: [], resolved: [] };
  for (const incident of sortIncidents(incidents)) groups[incident.status].push(incident);
  return groups;
}

/** The board with one incident replaced by what the API answered to a mutation. */
export function withIncident(board: IncidentBoard, updated: Incident): IncidentBoard {
  const others = board.incidents.filter((i) => i.incident_id !== updated.incident_id);
  return { ...board, incidents: sortIncidents([...others, updated]) };
}

/** The insights of an incident in the order they happened. */
export function timeline(insights: readonly Insight[]): Insight[] {
  return [...insights].sort((a, b) => time(a.timestamp) - time(b.timestamp));
}

/** Shell-style matching as silences use it: `*` is any run of characters, the rest is literal. */
export function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  return re.test(value);
}

/** The silence that keeps a host quiet (every metric) at `now` the longest, if any. */
export function activeSilence(silences: readonly Silence[], host: string, now: number): Silence | null {
  let best: Silence | null = null;
  for (const s of silences) {
    const from = parseTime(s.starts_at);
    const to = parseTime(s.ends_at);
    if (from === null || to === null || from > now || to <= now) continue;
    if (s.metric !== "*" || !globMatch(s.host, host)) continue;
    if (best === null || to > time(best.ends_at)) best = s;
  }
  return best;
}

/** The body of "Silence this host for N h": this host exactly, every metric, from now. */
export function silenceFor(host: string, hours: number, now: number, incidentId: string): NewSilence {
  return {
    host,
    metric: "*",
    starts_at: new Date(now).toISOString(),
    ends_at: new Date(now + hours * HOUR).toISOString(),
    comment: `Silenced for ${hours} h from the dashboard (incident ${incidentId})`,
  };
}

export const incidentsKey = (api: ApiClient) => ["incidents", api.baseUrl] as const;

/**
 * The incidents page's query: open and acknowledged incidents (one page each) and those
 * resolved in the last 24 h, in page order. One attempt per poll, like the feed.
 */
export function incidentsQuery(api: ApiClient, now: () => number = Date.now) {
  return queryOptions({
    queryKey: incidentsKey(api),
    queryFn: async ({ signal }): Promise<IncidentBoard> => {
      const since = new Date(now() - RESOLVED_WINDOW_MS).toISOString();
      const [open, acknowledged, resolved] = await Promise.all([
        api.incidents({ status: "open", limit: OPEN_LIMIT }, signal),
        api.incidents({ status: "acknowledged", limit: OPEN_LIMIT }, signal),
        api.incidents({ status: "resolved", since, limit: RESOLVED_LIMIT }, signal),
      ]);
      return {
        incidents: mergeIncidents(open.incidents, acknowledged.incidents, resolved.incidents),
        more: open.nextToken !== null || acknowledged.nextToken !== null,
      };
    },
    refetchOnWindowFocus: false,
    retry: false,
  });
}

/**
 * One incident with its insights. The key carries what the list says changed (`updated_at`,
 * `insight_count`), so the 5-second list poll refetches a timeline only when it changed.
 */
export function incidentDetailQuery(api: ApiClient, incident: Incident) {
  return queryOptions({
    queryKey: ["incident", api.baseUrl, incident.incident_id, incident.updated_at, incident.insight_count],
    queryFn: ({ signal }) => api.incident(incident.incident_id, signal),
    staleTime: Infinity,
    placeholderData: keepPreviousData,
    retry: 1,
  });
}

export const silencesKey = (api: ApiClient) => ["silences", api.baseUrl] as const;

export function silencesQuery(api: ApiClient) {
  return queryOptions({
    queryKey: silencesKey(api),
    queryFn: ({ signal }) => api.silences(signal),
    refetchInterval: 30_000,
    refetchOnWindowFocus: false,
    retry: false,
  });
}
