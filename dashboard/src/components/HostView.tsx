import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useServices } from "../context";
import { timeDomain } from "../lib/chart";
import { FLEET_PATH } from "../lib/routes";
import { markersFor, extractSeries, type SeriesPoint } from "../lib/series";
import { useNow } from "../hooks/useNow";
import { Link } from "../router";
import { AlertCard } from "./AlertCard";
import { MetricChart } from "./MetricChart";
import { EmptyState, ErrorState, LoadingCards } from "./States";

const RANGES = [1, 6, 24] as const;
const HOUR = 3_600_000;
const REFRESH_MS = 15_000;

/** Per-host metric charts for the last hours, with the host's anomalies marked on them. */
export function HostView({ hostname }: { hostname: string }) {
  const { api } = useServices();
  const [hours, setHours] = useState<(typeof RANGES)[number]>(6);
  const now = useNow(REFRESH_MS);

  const metrics = useQuery({
    queryKey: ["metrics", api.baseUrl, hostname, hours],
    queryFn: ({ signal }) => api.hostMetrics(hostname, new Date(Date.now() - hours * HOUR).toISOString(), 1000, signal),
    refetchInterval: REFRESH_MS,
  });
  const insights = useQuery({
    queryKey: ["insights", "host", api.baseUrl, hostname],
    queryFn: ({ signal }) => api.hostInsights(hostname, 100, signal),
    refetchInterval: REFRESH_MS,
  });

  const series = metrics.data ? extractSeries(metrics.data.points) : new Map<string, SeriesPoint[]>();
  const [from, to] = timeDomain(series.values(), now - hours * HOUR, now);
  const known = new Set<string>(series.keys());
  const hostInsights = insights.data ?? [];

  return (
    <section className="page" data-testid="host-view" data-host={hostname}>
      <Link href={FLEET_PATH} className="back">
        ← Fleet
      </Link>
      <div className="page-head">
        <h1>{hostname}</h1>
        <div className="chips" role="group" aria-label="Time range">
          {RANGES.map((h) => (
            <button key={h} type="button" className={`chip${h === hours ? " active" : ""}`} aria-pressed={h === hours} onClick={() => setHours(h)}>
              {h} h
            </button>
          ))}
        </div>
      </div>
      {metrics.data === undefined ? (
        metrics.isError ? (
          <ErrorState title="Couldn't load metrics" detail={metrics.error.message} />
        ) : (
          <LoadingCards count={2} label="Loading metrics…" />
        )
      ) : series.size === 0 ? (
        <EmptyState title={`No metrics from ${hostname} in the last ${hours} h`}>
          <p className="muted">Metrics sent with POST /metrics appear here as they arrive.</p>
        </EmptyState>
      ) : (
        <div className="charts">
          {metrics.data.truncated ? <p className="muted note">Showing the latest 1000 points.</p> : null}
          {[...series.entries()].map(([name, points]) => (
            <MetricChart key={name} name={name} points={points} markers={markersFor(name, hostInsights, known, from, to)} from={from} to={to} />
          ))}
        </div>
      )}
      <h2 className="section-title">Insights for {hostname}</h2>
      {insights.isError && insights.data === undefined ? (
        <ErrorState title="Couldn't load insights" detail={insights.error.message} />
      ) : insights.data === undefined ? (
        <LoadingCards count={1} label="Loading insights…" />
      ) : hostInsights.length === 0 ? (
        <EmptyState title="No insights for this host" testId="empty-host-insights" />
      ) : (
        <div className="feed">
          {hostInsights.map((i) => (
            <AlertCard key={i.alert_id} insight={i} now={now} />
          ))}
        </div>
      )}
    </section>
  );
}
