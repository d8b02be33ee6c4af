import { formatTick, linePath, linearScale, niceTicks, timeTicks, valueDomain } from "../lib/chart";
import { insightHref } from "../lib/routes";
import type { Marker, SeriesPoint } from "../lib/series";
import { formatAbsolute, formatClock } from "../lib/time";
import { useElementWidth } from "../hooks/useElementWidth";
import { navigate } from "../router";
import { formatValue } from "./AlertCard";

interface Props {
  name: string;
  points: readonly SeriesPoint[];
  markers: readonly Marker[];
  from: number;
  to: number;
}

const HEIGHT = 170;
const PAD = { top: 10, right: 12, bottom: 22, left: 44 };

/** A line chart of one metric over [from, to], anomalies drawn as severity-coloured dots. */
export function MetricChart({ name, points, markers, from, to }: Props) {
  const [ref, width] = useElementWidth<HTMLDivElement>();
  const dots = markers.filter((m) => m.v !== null);
  const [lo, hi] = valueDomain(points, dots.map((m) => m.v as number));
  const x = linearScale([from, to], [PAD.left, width - PAD.right]);
  const y = linearScale([lo, hi], [HEIGHT - PAD.bottom, PAD.top]);
  const yTicks = niceTicks(lo, hi, 4);
  const yStep = yTicks.length > 1 ? (yTicks[1] as number) - (yTicks[0] as number) : 1;
  const xTicks = timeTicks(from, to, Math.max(2, Math.floor((width - PAD.left - PAD.right) / 80)));
  const last = points[points.length - 1];
  const path = linePath(points, x, y);

  return (
    <figure className="card chart" data-testid="metric-chart" data-metric={name} data-markers={markers.length}>
      <figcaption>
        <span className="chart-name">{name}</span>
        <span className="muted">
          {last ? `latest ${formatValue(last.v)}` : "no data"} · {points.length} points
          {markers.length > 0 ? ` · ${markers.length} anomal${markers.length === 1 ? "y" : "ies"}` : ""}
        </span>
      </figcaption>
      <div ref={ref} className="chart-box">
        <svg width={width} height={HEIGHT} role="img" aria-label={`${name} over time with ${markers.length} anomalies marked`}>
          {yTicks.map((t) => (
            <g key={t} className="grid">
              <line x1={PAD.left} x2={width - PAD.right} y1={y(t)} y2={y(t)} />
              <text x={PAD.left - 6} y={y(t)} dy="0.32em" textAnchor="end">
                {formatTick(t, yStep)}
              </text>
            </g>
          ))}
          {xTicks.map((t) => (
            <text key={t} className="axis" x={x(t)} y={HEIGHT - 6} textAnchor="middle">
              {formatClock(t)}
            </text>
          ))}
          {markers
            .filter((m) => m.v === null)
            .map((m) => (
              <line key={m.insight.alert_id} className={`rule sev-stroke-${m.insight.severity.toLowerCase()}`} x1={x(m.t)} x2={x(m.t)} y1={PAD.top} y2={HEIGHT - PAD.bottom}>
                <title>{`${m.insight.severity} ${m.insight.metric ?? m.insight.type} at ${formatAbsolute(m.insight.timestamp)}`}</title>
              </line>
            ))}
          {path ? <path className="line" d={path} /> : null}
          {dots.map((m) => (
            <circle
              key={m.insight.alert_id}
              className={`marker sev-fill-${m.insight.severity.toLowerCase()}`}
              data-testid="anomaly-marker"
              cx={x(m.t)}
              cy={y(m.v as number)}
              r={5}
              tabIndex={0}
              onClick={() => navigate(insightHref(m.insight.alert_id))}
              onKeyDown={(e) => e.key === "Enter" && navigate(insightHref(m.insight.alert_id))}
            >
              <title>{`${m.insight.severity}: ${name} ${formatValue(m.v)} at ${formatAbsolute(m.insight.timestamp)} (open details)`}</title>
            </circle>
          ))}
        </svg>
      </div>
    </figure>
  );
}
