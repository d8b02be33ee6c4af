import { useEffect } from "react";
import { insightHref } from "../lib/routes";
import type { Toast } from "../lib/toasts";
import { Link } from "../router";
import { SeverityBadge } from "./SeverityBadge";

export const TOAST_MS = 10_000;

function ToastItem({ toast, onDismiss }: { toast: Toast; onDismiss: (id: string) => void }) {
  useEffect(() => {
    const id = setTimeout(() => onDismiss(toast.id), TOAST_MS);
    return () => clearTimeout(id);
  }, [toast.id, onDismiss]);
  const { insight } = toast;
  return (
    <div
      className={`toast${insight ? ` sev-border-${insight.severity.toLowerCase()}` : ""}`}
      data-testid="toast"
      data-alert-id={insight?.alert_id ?? ""}
      data-host={insight?.entity_id ?? ""}
    >
      {insight ? (
        <Link href={insightHref(insight.alert_id)} className="toast-body" onClick={() => onDismiss(toast.id)}>
          <span className="toast-title">
            <SeverityBadge severity={insight.severity} /> New alert on <strong>{insight.entity_id}</strong>
          </span>
          <span className="toast-text">
            {insight.metric ? `${insight.metric} · ` : ""}risk {Math.round(insight.risk_score)}
            {insight.explanation ? ` · ${insight.explanation}` : ""}
          </span>
        </Link>
      ) : (
        <span className="toast-body">
          <span className="toast-title">+{toast.overflow} more new alerts</span>
        </span>
      )}
      <button type="button" className="toast-close" aria-label="Dismiss" onClick={() => onDismiss(toast.id)}>
        ×
      </button>
    </div>
  );
}

export function ToastStack({ toasts, onDismiss }: { toasts: readonly Toast[]; onDismiss: (id: string) => void }) {
  return (
    <div className="toasts" aria-live="polite" aria-label="New alerts">
      {toasts.map((t) => (
        <ToastItem key={t.id} toast={t} onDismiss={onDismiss} />
      ))}
    </div>
  );
}
