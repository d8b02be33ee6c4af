import { describe, expect, it } from "vitest";
import { json, networkError, scriptedFetch } from "../test/fixtures";
import { createApiClient } from "./client";
import { ApiError, fetchJson } from "./http";

describe("fetchJson", () => {
  it("sends Accept: application/json and returns the body", async () => {
    const { fetchImpl, calls } = scriptedFetch(json({ ok: 1 }));
    await expect(fetchJson("http://h/x", { fetchImpl })).resolves.toEqual({ ok: 1 });
    expect(calls[0]?.accept).toBe("application/json");
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
    const api = createApiClient("https://x/prod/", fetchImpl);
    await api.hostInsights("web-1", 100);
    await api.hostMetrics("web-1", "2026-01-01T00:00:00.000Z", 1000);
    expect(calls.map((c) => c.url)).toEqual([
      "https://x/prod/insights?host=web-1&limit=100",
      "https://x/prod/metrics?hostname=web-1&from=2026-01-01T00%3A00%3A00.000Z&limit=1000",
    ]);
  });

  it("encodes the insight id as one path segment and rejects a non-insight body", async () => {
    const { fetchImpl, calls } = scriptedFetch(json({ message: "hello" }));
    const api = createApiClient("http://h", fetchImpl);
    await expect(api.insight("a/b c")).rejects.toMatchObject({ message: /unexpected response shape/ });
    expect(calls[0]?.url).toBe("http://h/insights/a%2Fb%20c");
  });
});
