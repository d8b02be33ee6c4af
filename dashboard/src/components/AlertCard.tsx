import type { Insight } from "../api/types";
import { hostHref, insightHref } from "../lib/routes";
import { formatAbsolute, formatRelative } from "../lib/time";
import { Link } from "../router";
import { RiskMeter, SeverityBadge } from "./SeverityBadge";

export function formatValue(v: number | null): string {
  if (v === null) return "–";
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** One insight in the feed: what, where, when, why, what to do, and which model said so. */
export function AlertCard({ insight, now }: { insight: Insight; now: number }) {
  const { severity, entity_id: host, metric } = insight;
  return (
    <article
      className={`card alert sev-border-${severity.toLowerCase()}`}
      data-testid="alert-card"
      data-alert-id={insight.alert_id}
      data-host={host}
      data-severity={severity}
      data-metric={metric ?? ""}
    >
      <div className="alert-head">
        <SeverityBadge severity={severity} />
        <RiskMeter score={insight.risk_score} />
        <time dateTime={insight.timestamp} title={formatAbsolute(insight.timestamp)} className="muted">
          {formatRelative(insight.timestamp, now)}
        </time>
      </div>
      <div className="alert-where">
        <Link href={hostHref(host)} className="host">
          {host}
        </Link>
        {metric ? <span className="metric">{metric}</span> : null}
        {insight.observed !== null ? (
          <span className="muted">
            {formatValue(insight.observed)}
            {insight.expected !== null ? ` (expected ${formatValue(insight.expected)})` : ""}
          </span>
        ) : null}
      </div>
      {insight.explanation ? <p className="explanation">{insight.explanation}</p> : null}
      {insight.recommendations.length > 0 ? (
        <ul className="recommendations">
          {insight.recommendations.map((r, i) => (
            <li key={i}>{r}</li>
          ))}
        </ul>
      ) : null}
      <div className="alert-foot muted">
        <span>{insight.type}{insight.prediction_type ? ` · ${insight.prediction_type.replace(/_/g, " ")}` : ""}</span>
        {insight.model_used ? <span>model {insight.model_used}</span> : null}
        <Link href={insightHref(insight.alert_id)} className="details-link">
          Details →
        </Link>
      </div>
    </article>
  );
}
