import { isSeverity, SEVERITIES, type Insight, type Severity } from "../api/types";

/** Feed filters; an empty severity list means "all severities", a null host "all hosts". */
export interface Filters {
  severities: Severity[];
  host: string | null;
}

export const NO_FILTERS: Filters = { severities: [], host: null };

/** Read filters from a query string such as `?severity=HIGH,CRITICAL&host=web-1`. */
export function parseFilters(search: string): Filters {
  const params = new URLSearchParams(search);
  const wanted = new Set(
    (params.get("severity") ?? "")
      .split(",")
      .map((s) => s.trim().toUpperCase())
      .filter(isSeverity),
  );
  const host = params.get("host")?.trim() || null;
  return { severities: SEVERITIES.filter((s) => wanted.has(s)), host };
}

/** The query string for filters (`""` when none), canonical order so URLs compare equal. */
export function filtersToSearch(filters: Filters): string {
  const params = new URLSearchParams();
  const severities = SEVERITIES.filter((s) => filters.severities.includes(s));
  if (severities.length > 0 && severities.length < SEVERITIES.length) params.set("severity", severities.join(","));
  if (filters.host) params.set("host", filters.host);
  const qs = params.toString();
  return qs ? `?${qs}` : "";
}

export function toggleSeverity(filters: Filters, severity: Severity): Filters {
  const has = filters.severities.includes(severity);
  const next = has ? filters.severities.filter((s) => s !== severity) : [...filters.severities, severity];
  return { ...filters, severities: SEVERITIES.filter((s) => next.includes(s)) };
}

export function isFiltered(filters: Filters): boolean {
  return filters.host !== null || (filters.severities.length > 0 && filters.severities.length < SEVERITIES.length);
}

/** An insight concerns a host when it is its entity or one of its affected hosts. */
export function concernsHost(insight: Insight, host: string): boolean {
  return insight.entity_id === host || insight.affected_hosts.includes(host);
}

export function applyFilters(insights: readonly Insight[], filters: Filters): Insight[] {
  return insights.filter(
    (i) =>
      (filters.severities.length === 0 || filters.severities.includes(i.severity)) &&
      (filters.host === null || concernsHost(i, filters.host)),
  );
}

/** Every host mentioned by the insights, sorted, for the host filter. */
export function hostsOf(insights: readonly Insight[]): string[] {
  const hosts = new Set<string>();
  for (const i of insights) {
    hosts.add(i.entity_id);
    for (const h of i.affected_hosts) hosts.add(h);
  }
  return [...hosts].sort((a, b) => a.localeCompare(b));
}
