import { useCallback, useEffect, useRef, useState } from "react";
import type { Insight } from "../api/types";
import { detectNewAlerts } from "../lib/newAlerts";
import { addToasts, dismissToast, type Toast } from "../lib/toasts";

/** Toasts for alerts that appear in the polled feed after the first load. */
export function useAlertToasts(insights: readonly Insight[] | undefined) {
  const seen = useRef<ReadonlySet<string> | null>(null);
  const [toasts, setToasts] = useState<Toast[]>([]);

  useEffect(() => {
    if (insights === undefined) return;
    const { seen: next, fresh } = detectNewAlerts(seen.current, insights);
    seen.current = next;
    if (fresh.length > 0) setToasts((current) => addToasts(current, fresh));
  }, [insights]);

  const dismiss = useCallback((id: string) => setToasts((current) => dismissToast(current, id)), []);
  return { toasts, dismiss };
}
