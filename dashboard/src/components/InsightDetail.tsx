import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { ApiError } from "../api/http";
import type { Insight } from "../api/types";
import { useServices } from "../context";
import { FEED_PATH, hostHref } from "../lib/routes";
import { formatAbsolute, formatRelative } from "../lib/time";
import { useNow } from "../hooks/useNow";
import { Link } from "../router";
import { formatValue } from "./AlertCard";
import { RiskMeter, SeverityBadge } from "./SeverityBadge";
import { ErrorState, LoadingCards } from "./States";

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="fact">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function InsightBody({ insight }: { insight: Insight }) {
  const now = useNow();
  const scores = Object.entries(insight.scores).sort((a, b) => b[1] - a[1]);
  const hosts = [...new Set([insight.entity_id, ...insight.affected_hosts])];
  return (
    <article className={`card detail sev-border-${insight.severity.toLowerCase()}`} data-testid="insight-detail">
      <div className="alert-head">
        <SeverityBadge severity={insight.severity} />
        <RiskMeter score={insight.risk_score} />
        <time dateTime={insight.timestamp} className="muted" title={formatAbsolute(insight.timestamp)}>
          {formatRelative(insight.timestamp, now)}
        </time>
      </div>
      <h1 className="detail-title">
        {insight.prediction_type ? insight.prediction_type.replace(/_/g, " ") : insight.type} on {insight.entity_id}
      </h1>
      {insight.explanation ? <p className="explanation">{insight.explanation}</p> : null}
      {insight.recommendations.length > 0 ? (
        <>
          <h2 className="section-title">Recommendations</h2>
          <ol className="recommendations">
            {insight.recommendations.map((r, i) => (
              <li key={i}>{r}</li>
            ))}
          </ol>
        </>
      ) : null}
      <dl className="facts">
        <Fact label="Hosts">
          {hosts.map((h) => (
            <Link key={h} href={hostHref(h)} className="host">
              {h}
            </Link>
          ))}
        </Fact>
        <Fact label="Metric">{insight.metric ?? "–"}</Fact>
        <Fact label="Observed / expected">
          {formatValue(insight.observed)} / {formatValue(insight.expected)}
        </Fact>
        <Fact label="Type">{insight.type}</Fact>
        <Fact label="Confidence">{insight.confidence === null ? "–" : `${Math.round(insight.confidence * 100)} %`}</Fact>
        <Fact label="Model">{insight.model_used ?? "–"}</Fact>
        <Fact label="Time">{formatAbsolute(insight.timestamp)}</Fact>
        {insight.eta ? <Fact label="Expected at">{formatAbsolute(insight.eta)}</Fact> : null}
        {insight.limit !== null ? <Fact label="Limit">{formatValue(insight.limit)}</Fact> : null}
        <Fact label="Alert id">
          <code>{insight.alert_id}</code>
        </Fact>
      </dl>
      {scores.length > 0 ? (
        <>
          <h2 className="section-title">Detector scores</h2>
          <ul className="scores">
            {scores.map(([name, score]) => (
              <li key={name}>
                <span className="score-name">{name}</span>
                <span className="score-bar" aria-hidden="true">
                  <span style={{ width: `${Math.round(Math.min(1, Math.max(0, score)) * 100)}%` }} />
                </span>
                <span className="score-value">{score.toFixed(2)}</span>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </article>
  );
}

export function InsightDetail({ id }: { id: string }) {
  const { api } = useServices();
  const query = useQuery({
    queryKey: ["insight", api.baseUrl, id],
    queryFn: ({ signal }) => api.insight(id, signal),
    retry: (count, err) => !(err instanceof ApiError && err.status === 404) && count < 2,
  });
  return (
    <section className="page">
      <Link href={FEED_PATH} className="back">
        ← All insights
      </Link>
      {query.data ? (
        <InsightBody insight={query.data} />
      ) : query.isError ? (
        query.error instanceof ApiError && query.error.status === 404 ? (
          <ErrorState title="Insight not found" detail={`No insight with id ${id}. It may have expired (insights are kept 180 days).`} />
        ) : (
          <ErrorState title="Couldn't load this insight" detail={query.error.message} />
        )
      ) : (
        <LoadingCards count={1} label="Loading insight…" />
      )}
    </section>
  );
}
