import type { TokenSource } from "../api/client";
import type { Incident } from "../api/incidents";
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

/** An open incident on web-1 with defaults; override what the test is about. */
export function makeIncident(overrides: Partial<Incident> = {}): Incident {
  counter += 1;
  return {
    incident_id: `inc-${counter}`,
    status: "open",
    severity: "HIGH",
    hosts: ["web-1"],
    metrics: ["cpuUsage"],
    opened_at: "2026-01-01T12:00:00Z",
    updated_at: "2026-01-01T12:00:00Z",
    resolved_at: null,
    insight_ids: [],
    insight_count: overrides.insight_ids?.length ?? 0,
    summary: "",
    acknowledged_by: null,
    resolved_by: null,
    ...overrides,
  };
}

/** The wire form of an insight (what the API sends). */
export function wireInsight(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...makeInsight(), ...overrides };
}

export interface FakeCall {
  url: string;
  method: string;
  accept: string | null;
  authorization: string | null;
  contentType: string | null;
  /** The JSON body, parsed; undefined when there was none. */
  body: unknown;
}

function record(input: RequestInfo | URL, init?: RequestInit): FakeCall {
  const headers = new Headers(init?.headers);
  return {
    url: String(input),
    method: init?.method ?? "GET",
    accept: headers.get("accept"),
    authorization: headers.get("authorization"),
    contentType: headers.get("content-type"),
    body: typeof init?.body === "string" ? JSON.parse(init.body) : undefined,
  };
}

export type Responder = (url: string, signal: AbortSignal | undefined) => Promise<Response> | Response;

/** A scripted `fetch`: each call takes the next responder (the last one repeats). Records calls. */
export function scriptedFetch(...responders: Responder[]) {
  const calls: FakeCall[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push(record(input, init));
    const responder = responders[Math.min(calls.length - 1, responders.length - 1)];
    if (!responder) throw new Error("no responder");
    return responder(String(input), init?.signal ?? undefined);
  }) as typeof fetch;
  return { fetchImpl, calls };
}

/**
 * A fake API by route: `handle(call, path, query)` answers every request (path without the
 * origin, e.g. "/incidents/inc-1/ack"). A Response is sent as is, anything else as 200 JSON.
 * Records calls.
 */
export function routedFetch(handle: (call: FakeCall, path: string, query: URLSearchParams) => unknown) {
  const calls: FakeCall[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const call = record(input, init);
    calls.push(call);
    const url = new URL(call.url);
    const answer = await handle(call, url.pathname, url.searchParams);
    return answer instanceof Response ? answer : new Response(JSON.stringify(answer), { status: 200 });
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
