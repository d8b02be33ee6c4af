import { useConnection } from "../context";
import { FAILURE_THRESHOLD } from "../lib/connection";
import { formatRelative } from "../lib/time";
import { useNow } from "../hooks/useNow";

const LABELS = { connecting: "Connecting…", connected: "Connected", error: "Connection error" } as const;

export function ConnectionStatus() {
  const { status, consecutiveFailures, lastSuccessAt, lastError } = useConnection();
  const now = useNow(5_000);
  const since = lastSuccessAt === null ? null : formatRelative(new Date(lastSuccessAt).toISOString(), now);
  const detail =
    status === "error"
      ? `${consecutiveFailures} polls failed in a row (${lastError ?? "unknown error"}); retrying every 5 s`
      : consecutiveFailures > 0
        ? `${consecutiveFailures} of ${FAILURE_THRESHOLD} polls failed: ${lastError ?? ""}`
        : since
          ? `Last update ${since}`
          : "Waiting for the first answer from the API";
  return (
    <div className={`conn conn-${status}`} data-testid="connection-status" data-status={status} role="status" title={detail}>
      <span className="conn-dot" aria-hidden="true" />
      <span className="conn-label">{LABELS[status]}</span>
      {status === "error" ? <span className="conn-detail">retrying…</span> : null}
    </div>
  );
}
