import { joinUrl } from "../lib/url";
import { ApiError, fetchJson } from "./http";
import { parseInsight, parseInsightList, parseMetrics, type Insight, type MetricPoint } from "./types";

export interface ApiClient {
  readonly baseUrl: string;
  recentInsights(limit: number, signal?: AbortSignal): Promise<Insight[]>;
  insight(id: string, signal?: AbortSignal): Promise<Insight>;
  hostInsights(host: string, limit: number, signal?: AbortSignal): Promise<Insight[]>;
  hostMetrics(host: string, fromIso: string, limit: number, signal?: AbortSignal): Promise<{ points: MetricPoint[]; truncated: boolean }>;
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
 * GET with the ID token. A 401 gets one refresh and one retry: the token may have expired
 * between our check and API Gateway's. A second 401, or no token at all, ends the session.
 */
async function authorizedGet(url: string, tokens: TokenSource, fetchImpl?: typeof fetch, signal?: AbortSignal): Promise<unknown> {
  const send = (token: string) =>
    fetchJson(url, { headers: { Authorization: token }, ...(signal ? { signal } : {}), ...(fetchImpl ? { fetchImpl } : {}) });
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

async function getParsed<T>(
  url: string,
  parse: (raw: unknown) => T,
  tokens: TokenSource,
  fetchImpl?: typeof fetch,
  signal?: AbortSignal,
): Promise<T> {
  const raw = await authorizedGet(url, tokens, fetchImpl, signal);
  try {
    return parse(raw);
  } catch (err) {
    throw shapeError(url, err);
  }
}

export function createApiClient(baseUrl: string, tokens: TokenSource, fetchImpl?: typeof fetch): ApiClient {
  return {
    baseUrl,
    recentInsights: (limit, signal) =>
      getParsed(joinUrl(baseUrl, "insights/recent", { limit }), parseInsightList, tokens, fetchImpl, signal),
    insight: (id, signal) => {
      const url = joinUrl(baseUrl, `insights/${encodeURIComponent(id)}`);
      return getParsed(
        url,
        (raw) => {
          const insight = parseInsight(raw);
          if (insight === null) throw new TypeError("not an insight");
          return insight;
        },
        tokens,
        fetchImpl,
        signal,
      );
    },
    hostInsights: (host, limit, signal) =>
      getParsed(joinUrl(baseUrl, "insights", { host, limit }), parseInsightList, tokens, fetchImpl, signal),
    hostMetrics: (host, fromIso, limit, signal) =>
      getParsed(joinUrl(baseUrl, "metrics", { hostname: host, from: fromIso, limit }), parseMetrics, tokens, fetchImpl, signal),
  };
}
