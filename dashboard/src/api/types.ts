/** Wire types of the IOps API and lenient parsers that turn unknown JSON into them. */

export type Severity = "LOW" | "MEDIUM" | "HIGH" | "CRITICAL";

/** Most severe first: the order used by filters and legends. */
export const SEVERITIES: readonly Severity[] = ["CRITICAL", "HIGH", "MEDIUM", "LOW"];

export interface Insight {
  alert_id: string;
  entity_id: string;
  timestamp: string;
  prediction_type: string | null;
  type: string;
  severity: Severity;
  risk_score: number;
  confidence: number | null;
  explanation: string;
  recommendations: string[];
  model_used: string | null;
  affected_hosts: string[];
  metric: string | null;
  observed: number | null;
  expected: number | null;
  scores: Record<string, number>;
  eta: string | null;
  limit: number | null;
}

export interface MetricPoint {
  hostname: string;
  timestamp: string;
  values: Record<string, number>;
}

type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
export const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
export const num = (v: unknown): number | null => {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return null;
};
export const strList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

export function isSeverity(v: unknown): v is Severity {
  return v === "LOW" || v === "MEDIUM" || v === "HIGH" || v === "CRITICAL";
}

/** The severity implied by a risk score, used when an insight carries no valid severity. */
export function severityFromRisk(risk: number): Severity {
  if (risk >= 90) return "CRITICAL";
  if (risk >= 80) return "HIGH";
  if (risk >= 50) return "MEDIUM";
  return "LOW";
}

/** A severity from the wire, case-insensitively; null when it is none of the four. */
export function parseSeverity(v: unknown): Severity | null {
  const upper = typeof v === "string" ? v.toUpperCase() : v;
  return isSeverity(upper) ? upper : null;
}

/** Parse one insight; null when it lacks an id or a timestamp (nothing sensible to show). */
export function parseInsight(raw: unknown): Insight | null {
  if (!isObject(raw)) return null;
  const alertId = str(raw.alert_id);
  const timestamp = str(raw.timestamp);
  if (alertId === null || timestamp === null) return null;
  const risk = Math.min(100, Math.max(0, num(raw.risk_score) ?? 0));
  const scores: Record<string, number> = {};
  if (isObject(raw.scores)) {
    for (const [k, v] of Object.entries(raw.scores)) {
      const n = num(v);
      if (n !== null) scores[k] = n;
    }
  }
  return {
    alert_id: alertId,
    entity_id: str(raw.entity_id) ?? "unknown",
    timestamp,
    prediction_type: str(raw.prediction_type),
    type: str(raw.type) ?? "anomaly",
    severity: parseSeverity(raw.severity) ?? severityFromRisk(risk),
    risk_score: risk,
    confidence: num(raw.confidence),
    explanation: str(raw.explanation) ?? "",
    recommendations: strList(raw.recommendations),
    model_used: str(raw.model_used),
    affected_hosts: strList(raw.affected_hosts),
    metric: str(raw.metric),
    observed: num(raw.observed),
    expected: num(raw.expected),
    scores,
    eta: str(raw.eta),
    limit: num(raw.limit),
  };
}

/** Parse a list of insights: a bare array (`/insights/recent`) or `{"insights": [...]}`. */
export function parseInsightList(raw: unknown): Insight[] {
  const items = Array.isArray(raw) ? raw : isObject(raw) && Array.isArray(raw.insights) ? raw.insights : null;
  if (items === null) throw new TypeError("expected a list of insights");
  return items.map(parseInsight).filter((i): i is Insight => i !== null);
}

/** Parse `GET /metrics`: `{"metrics": [{hostname, timestamp, <numeric fields>}]}`. */
export function parseMetrics(raw: unknown): { points: MetricPoint[]; truncated: boolean } {
  if (!isObject(raw) || !Array.isArray(raw.metrics)) throw new TypeError("expected {metrics: [...]}");
  const points: MetricPoint[] = [];
  for (const item of raw.metrics) {
    if (!isObject(item)) continue;
    const timestamp = typeof item.timestamp === "number" ? new Date(item.timestamp * 1000).toISOString() : str(item.timestamp);
    if (timestamp === null) continue;
    const values: Record<string, number> = {};
    for (const [k, v] of Object.entries(item)) {
      if (k === "hostname" || k === "timestamp") continue;
      if (typeof v === "number" && Number.isFinite(v)) values[k] = v;
    }
    points.push({ hostname: str(item.hostname) ?? "", timestamp, values });
  }
  return { points, truncated: typeof raw.nextToken === "string" && raw.nextToken !== "" };
}
