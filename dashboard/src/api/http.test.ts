import { describe, expect, it } from "vitest";
import { fixedTokens, json, networkError, scriptedFetch } from "../test/fixtures";
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
