/** Wire types of incidents, silences and feedback, and lenient parsers for them. */
import { isObject, num, parseInsight, parseSeverity, str, strList, type Insight, type Severity } from "./types";

export type IncidentStatus = "open" | "acknowledged" | "resolved";

/** The order of the incidents page: what needs someone first. */
export const INCIDENT_STATUSES: readonly IncidentStatus[] = ["open", "acknowledged", "resolved"];

export interface Incident {
  incident_id: string;
  status: IncidentStatus;
  severity: Severity;
  hosts: string[];
  metrics: string[];
  opened_at: string;
  updated_at: string;
  resolved_at: string | null;
  insight_ids: string[];
  /** All its insights (`insight_ids` may list only the newest). */
  insight_count: number;
  summary: string;
  acknowledged_by: string | null;
  resolved_by: string | null;
}

export interface IncidentDetail extends Incident {
  insights: Insight[];
}

export interface IncidentPage {
  incidents: Incident[];
  nextToken: string | null;
}

export interface NewSilence {
  host: string;
  metric: string;
  starts_at: string;
  ends_at: string;
  comment: string;
}

export interface Silence extends NewSilence {
  silence_id: string;
}

export type Verdict = "useful" | "not_an_anomaly" | "too_sensitive" | "expected_change";

export const VERDICTS: readonly { verdict: Verdict; label: string }[] = [
  { verdict: "useful", label: "Useful" },
  { verdict: "not_an_anomaly", label: "Not an anomaly" },
  { verdict: "too_sensitive", label: "Too sensitive" },
  { verdict: "expected_change", label: "Expected change" },
];

function isStatus(v: unknown): v is IncidentStatus {
  return v === "open" || v === "acknowledged" || v === "resolved";
}

/** One incident; null without an id, a known status or an opening time. */
export function parseIncident(raw: unknown): Incident | null {
  if (!isObject(raw)) return null;
  const id = str(raw.incident_id);
  const status = typeof raw.status === "string" ? raw.status.toLowerCase() : null;
  const openedAt = str(raw.opened_at);
  if (id === null || !isStatus(status) || openedAt === null) return null;
  const insightIds = strList(raw.insight_ids);
  return {
    incident_id: id,
    status,
    severity: parseSeverity(raw.severity) ?? "LOW",
    hosts: strList(raw.hosts),
    metrics: strList(raw.metrics),
    opened_at: openedAt,
    updated_at: str(raw.updated_at) ?? openedAt,
    resolved_at: str(raw.resolved_at),
    insight_ids: insightIds,
    insight_count: Math.max(insightIds.length, num(raw.insight_count) ?? 0),
    summary: str(raw.summary) ?? "",
    acknowledged_by: str(raw.acknowledged_by),
    resolved_by: str(raw.resolved_by),
  };
}

/** `GET /incidents`: `{"incidents": [...], "nextToken": string|null}`; unparseable items are dropped. */
export function parseIncidentPage(raw: unknown): IncidentPage {
  if (!isObject(raw) || !Array.isArray(raw.incidents)) throw new TypeError("expected {incidents: [...]}");
  return {
    incidents: raw.incidents.map(parseIncident).filter((i): i is Incident => i !== null),
    nextToken: str(raw.nextToken),
  };
}

/** An incident answered by ack/resolve (and the detail route): the body must be one. */
export function parseIncidentOrThrow(raw: unknown): Incident {
  const incident = parseIncident(raw);
  if (incident === null) throw new TypeError("not an incident");
  return incident;
}

/** `GET /incidents/{id}`: the incident plus its insights (unparseable insights dropped). */
export function parseIncidentDetail(raw: unknown): IncidentDetail {
  const incident = parseIncidentOrThrow(raw);
  const insights = isObject(raw) && Array.isArray(raw.insights) ? raw.insights : [];
  return { ...incident, insights: insights.map(parseInsight).filter((i): i is Insight => i !== null) };
}

export function parseSilence(raw: unknown): Silence | null {
  if (!isObject(raw)) return null;
  const id = str(raw.silence_id);
  const host = str(raw.host);
  const startsAt = str(raw.starts_at);
  const endsAt = str(raw.ends_at);
  if (id === null || host === null || startsAt === null || endsAt === null) return null;
  return { silence_id: id, host, metric: str(raw.metric) ?? "*", starts_at: startsAt, ends_at: endsAt, comment: str(raw.comment) ?? "" };
}

export function parseSilenceOrThrow(raw: unknown): Silence {
  const silence = parseSilence(raw);
  if (silence === null) throw new TypeError("not a silence");
  return silence;
}

/** `GET /silences`: `{"silences": [...]}`. */
export function parseSilenceList(raw: unknown): Silence[] {
  if (!isObject(raw) || !Array.isArray(raw.silences)) throw new TypeError("expected {silences: [...]}");
  return raw.silences.map(parseSilence).filter((s): s is Silence => s !== null);
}
