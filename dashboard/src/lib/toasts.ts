import type { Insight } from "../api/types";

export const MAX_TOASTS = 4;

export interface Toast {
  id: string;
  insight: Insight | null;
  /** For the summary toast: how many new alerts did not get a toast of their own. */
  overflow: number;
}

/**
 * Add toasts for fresh alerts to the visible ones, newest first, never more than `max`.
 * When a burst does not fit (e.g. after reconnecting), the last slot summarises the rest.
 */
export function addToasts(current: readonly Toast[], fresh: readonly Insight[], max = MAX_TOASTS): Toast[] {
  if (fresh.length === 0) return [...current];
  const incoming: Toast[] = fresh.map((insight) => ({ id: insight.alert_id, insight, overflow: 0 }));
  const existingIds = new Set(incoming.map((t) => t.id));
  let pendingOverflow = 0;
  const kept: Toast[] = [];
  for (const t of current) {
    if (existingIds.has(t.id)) continue;
    if (t.insight === null) pendingOverflow += t.overflow;
    else kept.push(t);
  }
  const all = [...incoming, ...kept];
  if (all.length <= max && pendingOverflow === 0) return all;
  const shown = all.slice(0, max - 1);
  const overflow = all.length - shown.length + pendingOverflow;
  return [...shown, { id: `overflow-${fresh[0]?.alert_id ?? ""}`, insight: null, overflow }];
}

export function dismissToast(current: readonly Toast[], id: string): Toast[] {
  return current.filter((t) => t.id !== id);
}
