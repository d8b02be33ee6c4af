import type { TokenSource } from "../api/client";
import type { Insight } from "../api/types";

let counter = 0;

/** A complete insight with sensible defaults; override what the test is about. */
export function makeInsight(overrides: Partial<Insight> = {}): Insight {
  counter += 1;
  return {
    alert_id: `alert-${counter}`,
    entity_id: "web-1",
    timestamp: "2026-01-01T12:00:00Z",
    prediction_type: "performance_degradation",
    type: "anomaly",
    severity: "HIGH",
    risk_score: 85,
    confidence: 0.9,
    explanation: "cpuUsage 99 vs expected 10",
    recommendations: ["Check the top processes"],
    model_used: "statistical",
    affected_hosts: ["web-1"],
    metric: "cpuUsage",
    observed: 99,
    expected: 10,
    scores: { zscore: 0.99 },
    eta: null,
    limit: null,
    ...overrides,
  };
}

/** The wire form of an insight (what the API sends). */
export function wireInsight(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...makeInsight(), ...overrides };
}

export interface FakeCall {
  url: string;
  accept: string | null;
  authorization: string | null;
}

export type Responder = (url: string, signal: AbortSignal | undefined) => Promise<Response> | Response;

/** A scripted `fetch`: each call takes the next responder (the last one repeats). Records calls. */
export function scriptedFetch(...responders: Responder[]) {
  const calls: FakeCall[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const headers = new Headers(init?.headers);
    calls.push({ url, accept: headers.get("accept"), authorization: headers.get("authorization") });
    const responder = responders[Math.min(calls.length - 1, responders.length - 1)];
    if (!responder) throw new Error("no responder");
    return responder(url, init?.signal ?? undefined);
  }) as typeof fetch;
  return { fetchImpl, calls };
}

export const json = (body: unknown, status = 200): Responder => () =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

export const networkError: Responder = () => Promise.reject(new TypeError("Failed to fetch"));

/** Never answers; rejects like fetch does when its signal aborts. */
export const hang: Responder = (_url, signal) =>
  new Promise((_resolve, reject) => {
    signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
  });

/** A signed-in TokenSource that always has the same token; counts refreshes and expiries. */
export function fixedTokens(token = "id-token-1", refreshed: string | null = "id-token-2") {
  const counts = { refresh: 0, expire: 0 };
  const tokens: TokenSource = {
    idToken: () => Promise.resolve(token),
    refresh: () => {
      counts.refresh += 1;
      return Promise.resolve(refreshed);
    },
    expire: () => {
      counts.expire += 1;
    },
  };
  return { tokens, counts };
}
