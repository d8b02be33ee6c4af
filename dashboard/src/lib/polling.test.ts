// @vitest-environment happy-dom
// (TanStack Query treats a missing `window` as server-side rendering.)
import { QueryClient, QueryObserver } from "@tanstack/react-query";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createApiClient } from "../api/client";
import { DEFAULT_TIMEOUT_MS } from "../api/http";
import { fixedTokens, hang, json, networkError, scriptedFetch, wireInsight, type Responder } from "../test/fixtures";
import { ConnectionTracker } from "./connection";
import { POLL_INTERVAL_MS, recentInsightsQuery, startPolling } from "./polling";

/** Run the real TanStack observer with the app's poll options against a scripted fetch. */
function start(...responders: Responder[]) {
  const { fetchImpl, calls } = scriptedFetch(...responders);
  const tracker = new ConnectionTracker();
  const client = new QueryClient();
  const api = createApiClient("https://abc.execute-api.eu-west-1.amazonaws.com/prod/", fixedTokens().tokens, fetchImpl);
  const options = recentInsightsQuery(api, tracker, () => Date.now());
  const observer = new QueryObserver(client, options);
  const unsubscribe = observer.subscribe(() => {});
  const stopPolling = startPolling(client, options.queryKey);
  return {
    calls,
    tracker,
    observer,
    stop: () => {
      stopPolling();
      unsubscribe();
      client.clear();
    },
  };
}

const status = (p: { tracker: ConnectionTracker }) => p.tracker.getSnapshot().status;
const tick = () => vi.advanceTimersByTimeAsync(POLL_INTERVAL_MS);

describe("insights polling", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("polls /insights/recent?limit=50 every 5 s with Accept: application/json", async () => {
    const p = start(json([wireInsight()]));
    await vi.advanceTimersByTimeAsync(0);
    expect(p.calls).toHaveLength(1);
    await tick();
    await tick();
    expect(p.calls).toHaveLength(3);
    for (const call of p.calls) {
      expect(call.url).toBe("https://abc.execute-api.eu-west-1.amazonaws.com/prod/insights/recent?limit=50");
      expect(call.accept).toBe("application/json");
    }
    expect(POLL_INTERVAL_MS).toBe(5_000);
    p.stop();
  });

  it("goes connected -> error after 3 failed polls -> connected, keeping the last data", async () => {
    const first = wireInsight({ alert_id: "a1" });
    const p = start(json([first]), json({ message: "boom" }, 503), networkError, json({}, 500), json([first]));
    await vi.advanceTimersByTimeAsync(0);
    expect(status(p)).toBe("connected");
    await tick();
    expect(status(p)).toBe("connected");
    await tick();
    expect(status(p)).toBe("connected");
    await tick();
    expect(status(p)).toBe("error");
    expect(p.tracker.getSnapshot().consecutiveFailures).toBe(3);
    expect(p.observer.getCurrentResult().data?.map((i) => i.alert_id)).toEqual(["a1"]);
    await tick();
    expect(status(p)).toBe("connected");
    expect(p.calls).toHaveLength(5);
    p.stop();
  });

  it("counts a server that stops answering as failures (request timeout)", async () => {
    const p = start(json([]), hang);
    await vi.advanceTimersByTimeAsync(0);
    expect(status(p)).toBe("connected");
    // polls at 5, 10 and 15 s hang and are aborted 4 s later: the third failure lands at 19 s
    expect(DEFAULT_TIMEOUT_MS).toBeLessThan(POLL_INTERVAL_MS);
    await vi.advanceTimersByTimeAsync(3 * POLL_INTERVAL_MS + DEFAULT_TIMEOUT_MS - 1);
    expect(status(p)).toBe("connected");
    await vi.advanceTimersByTimeAsync(1);
    expect(status(p)).toBe("error");
    expect(p.tracker.getSnapshot().lastError).toMatch(/no answer/);
    expect(p.calls).toHaveLength(4);
    p.stop();
  });

  it("treats a non-JSON 200 (e.g. the SPA's index.html) as a failure", async () => {
    const html: Responder = () => new Response("<!doctype html><html></html>", { status: 200 });
    const p = start(html);
    await vi.advanceTimersByTimeAsync(2 * POLL_INTERVAL_MS);
    expect(status(p)).toBe("error");
    expect(p.tracker.getSnapshot().lastError).toMatch(/not JSON/);
    p.stop();
  });

  it("does not report a request cancelled by unmounting", async () => {
    const p = start(hang);
    await vi.advanceTimersByTimeAsync(0);
    p.stop();
    await vi.advanceTimersByTimeAsync(10 * POLL_INTERVAL_MS);
    expect(p.tracker.getSnapshot()).toMatchObject({ status: "connecting", consecutiveFailures: 0 });
    expect(p.calls).toHaveLength(1);
  });
});
