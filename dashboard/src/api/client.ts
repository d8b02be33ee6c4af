import { joinUrl, type QueryParams } from "../lib/url";
import { ApiError, fetchJson } from "./http";
import {
  parseIncidentDetail,
  parseIncidentOrThrow,
  parseIncidentPage,
  parseSilenceList,
  parseSilenceOrThrow,
  type Incident,
  type IncidentDetail,
  type IncidentPage,
  type IncidentStatus,
  type NewSilence,
  type Silence,
  type Verdict,
} from "./incidents";
import { parseInsight, parseInsightList, parseMetrics, type Insight, type MetricPoint } from "./types";

export interface MetricsPage {
  points: MetricPoint[];
  truncated: boolean;
}

export interface IncidentQuery {
  status?: IncidentStatus;
  host?: string;
  since?: string;
  limit?: number;
  nextToken?: string;
}

export interface ApiClient {
  readonly baseUrl: string;
  recentInsights(limit: number, signal?: AbortSignal): Promise<Insight[]>;
  insight(id: string, signal?: AbortSignal): Promise<Insight>;
  hostInsights(host: string, limit: number, signal?: AbortSignal): Promise<Insight[]>;
  /** A host's points, newest first; from `fromIso` when given, else simply the latest `limit`. */
  hostMetrics(host: string, fromIso: string | null, limit: number, signal?: AbortSignal): Promise<MetricsPage>;
  /** One page of `GET /metrics` without a host: a scan over every host (used to list the fleet). */
  fleetMetrics(limit: number, signal?: AbortSignal): Promise<MetricsPage>;
  incidents(query: IncidentQuery, signal?: AbortSignal): Promise<IncidentPage>;
  incident(id: string, signal?: AbortSignal): Promise<IncidentDetail>;
  ackIncident(id: string): Promise<Incident>;
  resolveIncident(id: string): Promise<Incident>;
  silences(signal?: AbortSignal): Promise<Silence[]>;
  createSilence(silence: NewSilence): Promise<Silence>;
  deleteSilence(id: string): Promise<void>;
  sendFeedback(insightId: string, verdict: Verdict, comment: string): Promise<void>;
}

interface Send {
  method?: "GET" | "POST" | "DELETE";
  body?: unknown;
  signal?: AbortSignal | undefined;
}

function shapeError(url: string, err: unknown): ApiError {
  return new ApiError(`unexpected response shape (${err instanceof Error ? err.message : String(err)})`, 200, url);
}

/** Where the client gets the Cognito ID token it sends as `Authorization`. */
export interface TokenSource {
  /** A valid ID token (refreshed first when close to expiry); null when nobody is signed in. */
  idToken(): Promise<string | null>;
  /** A new ID token after the API answered 401; null when the session cannot be refreshed. */
  refresh(): Promise<string | null>;
  /** The API refused a fresh token too: drop the session, which shows the sign-in page. */
  expire(): void;
}

const signedOut = (url: string) => new ApiError("signed out", 401, url);

/** A token, null, or (Cognito unreachable) an ApiError without status: a failed poll, not a sign-out. */
async function ask(url: string, get: () => Promise<string | null>): Promise<string | null> {
  try {
    return await get();
  } catch (err) {
    throw new ApiError(`sign-in service unreachable (${err instanceof Error ? err.message : String(err)})`, null, url);
  }
}

/**
 * A request with the ID token. A 401 gets one refresh and one retry: the token may have expired
 * between our check and API Gateway's (the authorizer refused it, so nothing was done). A second
 * 401, or no token at all, ends the session.
 */
async function authorizedRequest(url: string, tokens: TokenSource, { method, body, signal }: Send, fetchImpl?: typeof fetch): Promise<unknown> {
  const send = (token: string) =>
    fetchJson(url, {
      headers: { Authorization: token },
      ...(method ? { method } : {}),
      ...(body !== undefined ? { body } : {}),
      ...(signal ? { signal } : {}),
      ...(fetchImpl ? { fetchImpl } : {}),
    });
  const is401 = (err: unknown) => err instanceof ApiError && err.status === 401;
  const token = await ask(url, () => tokens.idToken());
  if (token === null) {
    tokens.expire();
    throw signedOut(url);
  }
  try {
    return await send(token);
  } catch (err) {
    if (!is401(err)) throw err;
  }
  const fresh = await ask(url, () => tokens.refresh());
  if (fresh === null) {
    tokens.expire();
    throw signedOut(url);
  }
  try {
    return await send(fresh);
  } catch (err) {
    if (is401(err)) tokens.expire();
    throw err;
  }
}

const segment = encodeURIComponent;

export function createApiClient(baseUrl: string, tokens: TokenSource, fetchImpl?: typeof fetch): ApiClient {
  async function call<T>(path: string, parse: (raw: unknown) => T, send: Send = {}, params: QueryParams = {}): Promise<T> {
    const url = joinUrl(baseUrl, path, params);
    const raw = await authorizedRequest(url, tokens, send, fetchImpl);
    try {
      return parse(raw);
    } catch (err) {
      throw shapeError(url, err);
    }
  }
  const ignore = () => undefined;
  return {
    baseUrl,
    recentInsights: (limit, signal) => call("insights/recent", parseInsightList, { signal }, { limit }),
    insight: (id, signal) =>
      call(
        `insights/${segment(id)}`,
        (raw) => {
          const insight = parseInsight(raw);
          if (insight === null) throw new TypeError("not an insight");
          return insight;
        },
        { signal },
      ),
    hostInsights: (host, limit, signal) => call("insights", parseInsightList, { signal }, { host, limit }),
    hostMetrics: (host, fromIso, limit, signal) => call("metrics", parseMetrics, { signal }, { hostname: host, from: fromIso, limit }),
    fleetMetrics: (limit, signal) => call("metrics", parseMetrics, { signal }, { limit }),
    incidents: ({ status, host, since, limit, nextToken }, signal) =>
      call("incidents", parseIncidentPage, { signal }, { status, host, since, limit, nextToken }),
    incident: (id, signal) => call(`incidents/${segment(id)}`, parseIncidentDetail, { signal }),
    ackIncident: (id) => call(`incidents/${segment(id)}/ack`, parseIncidentOrThrow, { method: "POST" }),
    resolveIncident: (id) => call(`incidents/${segment(id)}/resolve`, parseIncidentOrThrow, { method: "POST" }),
    silences: (signal) => call("silences", parseSilenceList, { signal }),
    createSilence: (silence) => call("silences", parseSilenceOrThrow, { method: "POST", body: silence }),
    deleteSilence: (id) => call(`silences/${segment(id)}`, ignore, { method: "DELETE" }),
    sendFeedback: (insightId, verdict, comment) =>
      call(`insights/${segment(insightId)}/feedback`, ignore, { method: "POST", body: { verdict, comment } }),
  };
}
