import { queryOptions, type QueryClient, type QueryKey } from "@tanstack/react-query";
import type { ApiClient } from "../api/client";
import type { ConnectionTracker } from "./connection";

export const POLL_INTERVAL_MS = 5_000;
export const RECENT_LIMIT = 50;

/**
 * The feed's query: `GET /insights/recent?limit=50`, one attempt per poll (no TanStack
 * retries, so "3 failures" means 3 polls). Every attempt reports to the connection tracker;
 * a request cancelled by TanStack (nobody is watching any more) reports nothing. On failure
 * TanStack keeps the last good data, so the feed stays visible while disconnected.
 */
export function recentInsightsQuery(api: ApiClient, tracker: ConnectionTracker, now: () => number = Date.now) {
  return queryOptions({
    queryKey: ["insights", "recent", api.baseUrl, RECENT_LIMIT],
    queryFn: async ({ signal }) => {
      try {
        const insights = await api.recentInsights(RECENT_LIMIT, signal);
        tracker.report({ type: "success", at: now() });
        return insights;
      } catch (err) {
        if (!signal.aborted) {
          tracker.report({ type: "failure", at: now(), error: err instanceof Error ? err.message : String(err) });
        }
        throw err;
      }
    },
    refetchOnWindowFocus: false,
    retry: false,
  });
}

/**
 * Refetch a query every `intervalMs` on a fixed cadence, also while the tab is hidden.
 * (TanStack's own `refetchInterval` restarts its timer on every state change, so a server
 * that hangs until the request timeout would stretch the period to timeout + interval.)
 * A poll that is still in flight is reused, never doubled. Returns a function that stops it.
 */
export function startPolling(client: QueryClient, queryKey: QueryKey, intervalMs = POLL_INTERVAL_MS): () => void {
  const id = setInterval(() => {
    void client.refetchQueries({ queryKey, exact: true, type: "active" }, { cancelRefetch: false });
  }, intervalMs);
  return () => clearInterval(id);
}
