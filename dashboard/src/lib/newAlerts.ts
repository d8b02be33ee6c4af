import type { Insight } from "../api/types";

/** How many alert ids to remember; far more than one poll returns. */
export const SEEN_CAPACITY = 2_000;

export interface Detection {
  seen: Set<string>;
  fresh: Insight[];
}

/**
 * Which insights of a poll were never seen before. The first poll (`seen === null`) only sets
 * the baseline: alerts already present at first load do not pop toasts. Returns a new set;
 * the oldest remembered ids are dropped beyond `capacity`.
 */
export function detectNewAlerts(seen: ReadonlySet<string> | null, insights: readonly Insight[], capacity = SEEN_CAPACITY): Detection {
  const next = new Set(seen ?? []);
  const fresh: Insight[] = [];
  for (const insight of insights) {
    if (next.has(insight.alert_id)) continue;
    next.add(insight.alert_id);
    if (seen !== null) fresh.push(insight);
  }
  while (next.size > capacity) {
    const oldest = next.values().next().value;
    if (oldest === undefined) break;
    next.delete(oldest);
  }
  return { seen: next, fresh };
}
