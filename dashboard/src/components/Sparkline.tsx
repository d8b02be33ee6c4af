import { sparkPath } from "../lib/fleet";
import type { SeriesPoint } from "../lib/series";
import { formatValue } from "./AlertCard";

const WIDTH = 120;
const HEIGHT = 30;

/** A metric's recent shape as a tiny inline SVG line, with its name and latest value. */
export function Sparkline({ name, points }: { name: string; points: readonly SeriesPoint[] }) {
  const latest = points[points.length - 1]?.v ?? null;
  return (
    <figure className="spark" data-testid="sparkline" data-metric={name} data-points={points.length}>
      <svg width={WIDTH} height={HEIGHT} viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`${name}: latest ${formatValue(latest)}`}>
        <path className="spark-line" d={sparkPath(points, WIDTH, HEIGHT)} />
      </svg>
      <figcaption>
        <span className="spark-name">{name}</span> <strong>{formatValue(latest)}</strong>
      </figcaption>
    </figure>
  );
}
