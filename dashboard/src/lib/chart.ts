import type { SeriesPoint } from "./series";

export type Scale = (x: number) => number;

export function linearScale([d0, d1]: readonly [number, number], [r0, r1]: readonly [number, number]): Scale {
  const span = d1 - d0;
  if (span === 0) return () => (r0 + r1) / 2;
  return (x) => r0 + ((x - d0) / span) * (r1 - r0);
}

/** Round numbers for axis ticks covering [min, max], roughly `count` of them. */
export function niceTicks(min: number, max: number, count = 4): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const rough = (max - min) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? 10 * magnitude);
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
    ticks.push(Number(v.toFixed(10)));
  }
  return ticks;
}

/** The y domain: from 0 (or the minimum when negative) to a little above the maximum. */
export function valueDomain(points: readonly SeriesPoint[], extra: readonly number[] = []): [number, number] {
  const values = [...points.map((p) => p.v), ...extra];
  if (values.length === 0) return [0, 1];
  const lo = Math.min(0, ...values);
  const hi = Math.max(...values);
  if (hi === lo) return [lo, lo + 1];
  return [lo, hi + (hi - lo) * 0.05];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/**
 * An SVG path through the points. Where two neighbours are more than `gapFactor` times the
 * median spacing apart (the host sent nothing for a while), the line breaks instead of
 * drawing a misleading straight segment across the gap.
 */
export function linePath(points: readonly SeriesPoint[], x: Scale, y: Scale, gapFactor = 3): string {
  if (points.length === 0) return "";
  const gaps = points.slice(1).map((p, i) => p.t - (points[i]?.t ?? p.t));
  const limit = gaps.length > 0 ? median(gaps) * gapFactor : Infinity;
  let d = "";
  points.forEach((p, i) => {
    const prev = points[i - 1];
    const move = i === 0 || (prev !== undefined && p.t - prev.t > limit);
    d += `${move ? "M" : "L"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
  });
  return d;
}

/** A tick label with just the decimals the tick step needs (0, 25, 50 / 0.5, 1.0). */
export function formatTick(value: number, step: number): string {
  let decimals = 0;
  while (decimals < 6 && Math.abs(Math.round(step * 10 ** decimals) - step * 10 ** decimals) > 1e-6) decimals += 1;
  return value.toFixed(decimals);
}

const MINUTE = 60_000;
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((m) => m * MINUTE);

/** Time ticks on round minutes/hours (epoch-aligned), at most `maxCount` of them. */
export function timeTicks(from: number, to: number, maxCount: number): number[] {
  if (!(to > from) || maxCount < 1) return [];
  const step = TIME_STEPS.find((s) => (to - from) / s <= maxCount) ?? (TIME_STEPS[TIME_STEPS.length - 1] as number);
  const ticks: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t);
  return ticks;
}

/**
 * The x domain of a host's charts: the selected window, but starting at the oldest point when
 * the data is younger than the window, so a host that started reporting 20 minutes ago does
 * not get a chart that is 95 % empty. All charts of a host share it, so they line up.
 */
export function timeDomain(series: Iterable<readonly SeriesPoint[]>, from: number, to: number): [number, number] {
  let first = Infinity;
  for (const points of series) if (points[0] && points[0].t < first) first = points[0].t;
  const start = Math.max(from, Number.isFinite(first) ? first : from);
  return start < to ? [start, to] : [from, to];
}
