import type { UseQueryResult } from "@tanstack/react-query";
import type { Insight } from "../api/types";
import { useConnection, useServices } from "../context";
import { applyFilters, filtersToSearch, hostsOf, isFiltered, parseFilters, type Filters } from "../lib/filters";
import { FEED_PATH } from "../lib/routes";
import { formatClock } from "../lib/time";
import { useNow } from "../hooks/useNow";
import { navigate, useLocation } from "../router";
import { AlertCard } from "./AlertCard";
import { FiltersBar } from "./FiltersBar";
import { EmptyState, ErrorState, LoadingCards } from "./States";

/** The live feed; filters live in the URL (`?severity=HIGH,CRITICAL&host=web-1`). */
export function AlertsFeed({ query }: { query: UseQueryResult<Insight[]> }) {
  const { search } = useLocation();
  const { api } = useServices();
  const now = useNow();
  const connection = useConnection();
  const filters = parseFilters(search);
  const setFilters = (f: Filters) => navigate(`${FEED_PATH}${filtersToSearch(f)}`, { replace: true });

  if (query.data === undefined) {
    // Before any data: skeletons until the status itself says error (3 failed polls).
    if (connection.status === "error") {
      return (
        <ErrorState title="Can't reach the insights API" detail={`${api.baseUrl}: ${connection.lastError ?? "no answer"}`}>
          <p className="muted">The dashboard keeps trying every 5 seconds.</p>
        </ErrorState>
      );
    }
    return <LoadingCards />;
  }

  const insights = query.data;
  const shown = applyFilters(insights, filters);
  return (
    <section aria-label="Alerts feed">
      {connection.status === "error" ? (
        <div className="banner" role="alert" data-testid="stale-banner">
          Live updates paused: the API is not answering.
          {connection.lastSuccessAt !== null ? ` Showing alerts as of ${formatClock(connection.lastSuccessAt)}.` : ""} Retrying every 5 s.
        </div>
      ) : null}
      {insights.length > 0 ? (
        <FiltersBar filters={filters} hosts={hostsOf(insights)} shown={shown.length} total={insights.length} onChange={setFilters} />
      ) : null}
      {insights.length === 0 ? (
        <EmptyState title="No insights yet">
          <p className="muted">
            The detectors are watching every metric that arrives. Anomalies and predictions show up here within seconds.
          </p>
        </EmptyState>
      ) : shown.length === 0 && isFiltered(filters) ? (
        <EmptyState title="No alerts match these filters" testId="empty-filtered">
          <button type="button" className="button" onClick={() => setFilters({ severities: [], host: null })}>
            Show all alerts
          </button>
        </EmptyState>
      ) : (
        <div className="feed" data-testid="alerts-feed">
          {shown.map((insight) => (
            <AlertCard key={insight.alert_id} insight={insight} now={now} />
          ))}
        </div>
      )}
    </section>
  );
}
