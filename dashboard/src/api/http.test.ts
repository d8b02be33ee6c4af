import { describe, expect, it } from "vitest";
import { fixedTokens, json, networkError, routedFetch, scriptedFetch, wireInsight } from "../test/fixtures";
import { createApiClient } from "./client";
import { ApiError, fetchJson } from "./http";

describe("fetchJson", () => {
  it("sends Accept: application/json and returns the body", async () => {
    const { fetchImpl, calls } = scriptedFetch(json({ ok: 1 }));
    await expect(fetchJson("http://h/x", { fetchImpl })).resolves.toEqual({ ok: 1 });
    expect(calls[0]?.accept).toBe("application/json");
    expect(calls[0]?.authorization).toBeNull(); // config.json goes out without a token
  });

  it("turns an error status into an ApiError with the API's message", async () => {
    const { fetchImpl } = scriptedFetch(json({ message: "insight not found" }, 404));
    const err = await fetchJson("http://h/x", { fetchImpl }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 404, message: "insight not found" });
  });

  it("reports network errors with no status", async () => {
    const { fetchImpl } = scriptedFetch(networkError);
    await expect(fetchJson("http://h/x", { fetchImpl })).rejects.toMatchObject({ status: null, message: /network error/ });
  });
});

describe("api client", () => {
  it("builds the documented URLs", async () => {
    const { fetchImpl, calls } = scriptedFetch(json({ insights: [], nextToken: null }), json({ metrics: [], nextToken: null }));
    const api = createApiClient("https://x/prod/", fixedTokens().tokens, fetchImpl);
    await api.hostInsights("web-1", 100);
    await api.hostMetrics("web-1", "2026-01-01T00:00:00.000Z", 1000);
    expect(calls.map((c) => c.url)).toEqual([
      "https://x/prod/insights?host=web-1&limit=100",
      "https://x/prod/metrics?hostname=web-1&from=2026-01-01T00%3A00%3A00.000Z&limit=1000",
    ]);
  });

  it("encodes the insight id as one path segment and rejects a non-insight body", async () => {
    const { fetchImpl, calls } = scriptedFetch(json({ message: "hello" }));
    const api = createApiClient("http://h", fixedTokens().tokens, fetchImpl);
    await expect(api.insight("a/b c")).rejects.toMatchObject({ message: /unexpected response shape/ });
    expect(calls[0]?.url).toBe("http://h/insights/a%2Fb%20c");
  });
});

describe("api client authorization", () => {
  const unauthorized = json({ message: "Unauthorized" }, 401);

  it("sends the raw ID token as Authorization on every route", async () => {
    const { fetchImpl, calls } = scriptedFetch(json([]), json({ insights: [] }), json({ metrics: [] }), json({ message: "x" }));
    const api = createApiClient("http://h", fixedTokens("tok-A").tokens, fetchImpl);
    await api.recentInsights(50);
    await api.hostInsights("web-1", 100);
    await api.hostMetrics("web-1", "2026-01-01T00:00:00Z", 10);
    await api.insight("i-1").catch(() => undefined);
    expect(calls.map((c) => c.authorization)).toEqual(["tok-A", "tok-A", "tok-A", "tok-A"]);
    expect(calls.every((c) => !c.url.includes("tok-A"))).toBe(true);
  });

  it("on a 401 refreshes once and retries with the new token", async () => {
    const { fetchImpl, calls } = scriptedFetch(unauthorized, json([]));
    const { tokens, counts } = fixedTokens("old", "new");
    await expect(createApiClient("http://h", tokens, fetchImpl).recentInsights(5)).resolves.toEqual([]);
    expect(calls.map((c) => c.authorization)).toEqual(["old", "new"]);
    expect(counts).toEqual({ refresh: 1, expire: 0 });
  });

  it("ends the session when the refreshed token is refused too", async () => {
    const { fetchImpl, calls } = scriptedFetch(unauthorized);
    const { tokens, counts } = fixedTokens("old", "new");
    await expect(createApiClient("http://h", tokens, fetchImpl).recentInsights(5)).rejects.toMatchObject({ status: 401 });
    expect(calls).toHaveLength(2);
    expect(counts).toEqual({ refresh: 1, expire: 1 });
  });

  it("ends the session when the refresh is refused, without a second request", async () => {
    const { fetchImpl, calls } = scriptedFetch(unauthorized);
    const { tokens, counts } = fixedTokens("old", null);
    await expect(createApiClient("http://h", tokens, fetchImpl).recentInsights(5)).rejects.toMatchObject({ status: 401 });
    expect(calls).toHaveLength(1);
    expect(counts).toEqual({ refresh: 1, expire: 1 });
  });

  it("sends nothing when signed out", async () => {
    const { fetchImpl, calls } = scriptedFetch(json([]));
    const { tokens, counts } = fixedTokens();
    tokens.idToken = () => Promise.resolve(null);
    await expect(createApiClient("http://h", tokens, fetchImpl).recentInsights(5)).rejects.toMatchObject({ status: 401 });
    expect(calls).toHaveLength(0);
    expect(counts.expire).toBe(1);
  });

  it("other errors neither refresh nor sign out; Cognito unreachable is a failed poll", async () => {
    const { fetchImpl } = scriptedFetch(json({ message: "boom" }, 500));
    const { tokens, counts } = fixedTokens();
    await expect(createApiClient("http://h", tokens, fetchImpl).recentInsights(5)).rejects.toMatchObject({ status: 500 });
    tokens.idToken = () => Promise.reject(new Error("Network error"));
    await expect(createApiClient("http://h", tokens, fetchImpl).recentInsights(5)).rejects.toMatchObject({
      status: null,
      message: /sign-in service unreachable/,
    });
    expect(counts).toEqual({ refresh: 0, expire: 0 });
  });
});

describe("api client: incidents, silences, feedback", () => {
  const incident = { incident_id: "inc/1", status: "acknowledged", severity: "HIGH", hosts: ["web-1"], metrics: [], opened_at: "2026-01-01T12:00:00Z" };

  it("lists incidents with the contract's query parameters and fetches one with its insights", async () => {
    const { fetchImpl, calls } = routedFetch((_call, path) =>
      path.endsWith("/incidents") ? { incidents: [incident, { incident_id: "bad" }], nextToken: "t2" } : { ...incident, insights: [wireInsight({ alert_id: "a1" }), { nope: 1 }] },
    );
    const api = createApiClient("http://h/prod", fixedTokens("tok").tokens, fetchImpl);
    const page = await api.incidents({ status: "open", since: "2026-01-01T00:00:00Z", limit: 100, nextToken: "t1" });
    expect(page.nextToken).toBe("t2");
    expect(page.incidents.map((i) => i.incident_id)).toEqual(["inc/1"]);
    const detail = await api.incident("inc/1");
    expect(detail.insights.map((i) => i.alert_id)).toEqual(["a1"]);
    expect(calls.map((c) => [c.method, c.url, c.authorization])).toEqual([
      ["GET", "http://h/prod/incidents?status=open&since=2026-01-01T00%3A00%3A00Z&limit=100&nextToken=t1", "tok"],
      ["GET", "http://h/prod/incidents/inc%2F1", "tok"],
    ]);
  });

  it("acknowledges and resolves with a bare POST and returns the updated incident", async () => {
    const { fetchImpl, calls } = routedFetch((_call, path) => ({ ...incident, status: path.endsWith("/ack") ? "acknowledged" : "resolved" }));
    const api = createApiClient("http://h", fixedTokens("tok").tokens, fetchImpl);
    await expect(api.ackIncident("inc/1")).resolves.toMatchObject({ status: "acknowledged" });
    await expect(api.resolveIncident("inc/1")).resolves.toMatchObject({ status: "resolved" });
    expect(calls.map((c) => [c.method, c.url, c.body, c.authorization])).toEqual([
      ["POST", "http://h/incidents/inc%2F1/ack", undefined, "tok"],
      ["POST", "http://h/incidents/inc%2F1/resolve", undefined, "tok"],
    ]);
  });

  it("rejects an answer to a mutation that is not an incident", async () => {
    const { fetchImpl } = scriptedFetch(json({ ok: true }));
    await expect(createApiClient("http://h", fixedTokens().tokens, fetchImpl).ackIncident("x")).rejects.toMatchObject({
      message: /unexpected response shape \(not an incident\)/,
    });
  });

  it("creates, lists and deletes silences; sends feedback as JSON", async () => {
    const silence = { host: "web-1", metric: "*", starts_at: "2026-01-01T12:00:00.000Z", ends_at: "2026-01-01T13:00:00.000Z", comment: "deploy" };
    const { fetchImpl, calls } = routedFetch((call) =>
      call.method === "DELETE" ? new Response(null, { status: 204 }) : call.url.endsWith("/silences") && call.method === "GET" ? { silences: [{ ...silence, silence_id: "s1" }, {}] } : call.url.includes("feedback") ? { ok: true } : { ...silence, silence_id: "s1" },
    );
    const api = createApiClient("http://h", fixedTokens("tok").tokens, fetchImpl);
    await expect(api.createSilence(silence)).resolves.toEqual({ ...silence, silence_id: "s1" });
    await expect(api.silences()).resolves.toEqual([{ ...silence, silence_id: "s1" }]);
    await expect(api.deleteSilence("s 1")).resolves.toBeUndefined();
    await expect(api.sendFeedback("a/1", "too_sensitive", "noisy at night")).resolves.toBeUndefined();
    expect(calls.map((c) => [c.method, c.url, c.body])).toEqual([
      ["POST", "http://h/silences", silence],
      ["GET", "http://h/silences", undefined],
      ["DELETE", "http://h/silences/s%201", undefined],
      ["POST", "http://h/insights/a%2F1/feedback", { verdict: "too_sensitive", comment: "noisy at night" }],
    ]);
    expect(calls[0]).toMatchObject({ contentType: "application/json", accept: "application/json", authorization: "tok" });
    expect(calls[1]?.contentType).toBeNull();
  });

  it("refreshes the token once on a 401 to a POST too", async () => {
    const { fetchImpl, calls } = scriptedFetch(json({ message: "Unauthorized" }, 401), json(incident));
    const { tokens, counts } = fixedTokens("old", "new");
    await expect(createApiClient("http://h", tokens, fetchImpl).resolveIncident("inc/1")).resolves.toMatchObject({ incident_id: "inc/1" });
    expect(calls.map((c) => [c.method, c.authorization])).toEqual([["POST", "old"], ["POST", "new"]]);
    expect(counts).toEqual({ refresh: 1, expire: 0 });
  });

  it("scans one page of metrics for the fleet and asks for a host's latest points without a start", async () => {
    const { fetchImpl, calls } = scriptedFetch(json({ metrics: [], nextToken: "more" }));
    const api = createApiClient("http://h", fixedTokens().tokens, fetchImpl);
    await expect(api.fleetMetrics(1000)).resolves.toEqual({ points: [], truncated: true });
    await api.hostMetrics("web-1", null, 60);
    expect(calls.map((c) => c.url)).toEqual(["http://h/metrics?limit=1000", "http://h/metrics?hostname=web-1&limit=60"]);
  });
});
