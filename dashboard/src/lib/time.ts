/** Milliseconds since the epoch for an ISO 8601 timestamp, or null when it does not parse. */
export function parseTime(iso: string): number | null {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago"; future times read "in ...". */
export function formatRelative(iso: string, now: number): string {
  const t = parseTime(iso);
  if (t === null) return iso;
  const diff = now - t;
  const abs = Math.abs(diff);
  const fmt = (n: number, unit: string) => (diff >= 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`);
  if (abs < 5_000) return "just now";
  if (abs < 60_000) return fmt(Math.floor(abs / 1000), "s");
  if (abs < 3_600_000) return fmt(Math.floor(abs / 60_000), "min");
  if (abs < 86_400_000) return fmt(Math.floor(abs / 3_600_000), "h");
  return fmt(Math.floor(abs / 86_400_000), "d");
}

export function formatAbsolute(iso: string): string {
  const t = parseTime(iso);
  return t === null ? iso : new Date(t).toLocaleString();
}

export function formatClock(t: number): string {
  return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
