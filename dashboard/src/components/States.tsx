import type { ReactNode } from "react";

/** Placeholder cards with the feed's shape while the first response is on its way. */
export function LoadingCards({ count = 3, label = "Loading insights…" }: { count?: number; label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite" data-testid="loading">
      <span className="visually-hidden">{label}</span>
      {Array.from({ length: count }, (_, i) => (
        <div className="card skeleton" key={i} aria-hidden="true">
          <div className="skeleton-line w40" />
          <div className="skeleton-line w90" />
          <div className="skeleton-line w70" />
        </div>
      ))}
    </div>
  );
}

export function EmptyState({ title, children, testId = "empty" }: { title: string; children?: ReactNode; testId?: string }) {
  return (
    <div className="state empty" data-testid={testId}>
      <svg viewBox="0 0 48 48" width="48" height="48" aria-hidden="true">
        <circle cx="24" cy="24" r="20" fill="none" stroke="currentColor" strokeWidth="2" opacity=".35" />
        <path d="M14 26h6l3-8 4 14 3-6h4" fill="none" stroke="currentColor" strokeWidth="2.5" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
      <h2>{title}</h2>
      {children}
    </div>
  );
}

export function ErrorState({ title, detail, children }: { title: string; detail?: string | null; children?: ReactNode }) {
  return (
    <div className="state error" role="alert" data-testid="error-state">
      <svg viewBox="0 0 48 48" width="48" height="48" aria-hidden="true">
        <path d="M24 6 44 40H4Z" fill="none" stroke="currentColor" strokeWidth="2.5" strokeLinejoin="round" />
        <path d="M24 19v10M24 33v2" stroke="currentColor" strokeWidth="3" strokeLinecap="round" />
      </svg>
      <h2>{title}</h2>
      {detail ? <p className="muted">{detail}</p> : null}
      {children}
    </div>
  );
}
