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

async function getParsed<T>(url: string, parse: (raw: unknown) => T, fetchImpl?: typeof fetch, signal?: AbortSignal): Promise<T> {
  const raw = await fetchJson(url, { ...(signal ? { signal } : {}), ...(fetchImpl ? { fetchImpl } : {}) });
  try {
    return parse(raw);
  } catch (err) {
    throw shapeError(url, err);
  }
}

export function createApiClient(baseUrl: string, fetchImpl?: typeof fetch): ApiClient {
  return {
    baseUrl,
    recentInsights: (limit, signal) =>
      getParsed(joinUrl(baseUrl, "insights/recent", { limit }), parseInsightList, fetchImpl, signal),
    insight: (id, signal) => {
      const url = joinUrl(baseUrl, `insights/${encodeURIComponent(id)}`);
      return getParsed(
        url,
        (raw) => {
          const insight = parseInsight(raw);
          if (insight === null) throw new TypeError("not an insight");
          return insight;
        },
        fetchImpl,
        signal,
      );
    },
    hostInsights: (host, limit, signal) =>
      getParsed(joinUrl(baseUrl, "insights", { host, limit }), parseInsightList, fetchImpl, signal),
    hostMetrics: (host, fromIso, limit, signal) =>
      getParsed(joinUrl(baseUrl, "metrics", { hostname: host, from: fromIso, limit }), parseMetrics, fetchImpl, signal),
  };
}
