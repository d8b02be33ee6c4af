import { describe, expect, it } from "vitest";
import { ConnectionTracker, FAILURE_THRESHOLD, initialConnectionState, nextConnectionState, type ConnectionEvent } from "./connection";

const ok = (at = 1): ConnectionEvent => ({ type: "success", at });
const fail = (at = 1, error = "HTTP 503"): ConnectionEvent => ({ type: "failure", at, error });
const run = (...events: ConnectionEvent[]) => events.reduce(nextConnectionState, initialConnectionState);

describe("connection status", () => {
  it("starts connecting and is connected after the first success", () => {
    expect(initialConnectionState.status).toBe("connecting");
    expect(run(ok(10))).toEqual({ status: "connected", consecutiveFailures: 0, lastSuccessAt: 10, lastError: null });
  });

  it("tolerates two failures in a row and turns to error on the third", () => {
    expect(FAILURE_THRESHOLD).toBe(3);
    expect(run(ok(), fail()).status).toBe("connected");
    expect(run(ok(), fail(), fail()).status).toBe("connected");
    const state = run(ok(), fail(), fail(), fail(2, "no answer"));
    expect(state.status).toBe("error");
    expect(state.consecutiveFailures).toBe(3);
    expect(state.lastError).toBe("no answer");
    expect(state.lastSuccessAt).toBe(1);
  });

  it("counts only consecutive failures", () => {
    expect(run(ok(), fail(), fail(), ok(), fail(), fail()).status).toBe("connected");
  });

  it("recovers by itself on the next success", () => {
    const state = run(ok(), fail(), fail(), fail(), fail(), ok(50));
    expect(state).toEqual({ status: "connected", consecutiveFailures: 0, lastSuccessAt: 50, lastError: null });
  });

  it("goes from connecting straight to error when the API never answered", () => {
    expect(run(fail(), fail()).status).toBe("connecting");
    expect(run(fail(), fail(), fail()).status).toBe("error");
  });

  it("tracker notifies subscribers with the new snapshot", () => {
    const tracker = new ConnectionTracker();
    const seen: string[] = [];
    const unsubscribe = tracker.subscribe(() => seen.push(tracker.getSnapshot().status));
    tracker.report(ok());
    tracker.report(fail());
    unsubscribe();
    tracker.report(ok());
    expect(seen).toEqual(["connected", "connected"]);
  });
});
