import { useMutation, useQuery, useQueryClient, type UseQueryResult } from "@tanstack/react-query";
import { useEffect, useMemo, type ReactNode } from "react";
import { INCIDENT_STATUSES, type IncidentStatus, type Silence } from "../api/incidents";
import { useServices } from "../context";
import { useNow } from "../hooks/useNow";
import { groupByStatus, incidentsQuery, silencesKey, silencesQuery } from "../lib/incidents";
import { startPolling } from "../lib/polling";
import { FEED_PATH } from "../lib/routes";
import { formatAbsolute, parseTime } from "../lib/time";
import { Link } from "../router";
import { IncidentCard } from "./IncidentCard";
import { EmptyState, ErrorState, LoadingCards } from "./States";

const TITLES: Record<IncidentStatus, string> = {
  open: "Open",
  acknowledged: "Acknowledged",
  resolved: "Resolved in the last 24 h",
};

/**
 * The home page: open incidents first, then acknowledged, then recently resolved; polled every 5 s.
 * ``focus`` (from `/incidents/{id}`, the link in every notification) highlights that incident.
 */
export function IncidentsPage({ focus }: { focus?: string } = {}) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const options = useMemo(() => incidentsQuery(api), [api]);
  const query = useQuery(options);
  useEffect(() => startPolling(queryClient, options.queryKey), [queryClient, options]);
  const silences = useQuery(useMemo(() => silencesQuery(api), [api]));
  const now = useNow();

  if (query.data === undefined) {
    if (query.isError) {
      return (
        <ErrorState title="Couldn't load incidents" detail={`${api.baseUrl}: ${query.error.message}`}>
          <p className="muted">The dashboard keeps trying every 5 seconds.</p>
          <Link href={FEED_PATH} className="button">
            See the insights feed
          </Link>
        </ErrorState>
      );
    }
    return <LoadingCards label="Loading incidents…" />;
  }

  const groups = groupByStatus(query.data.incidents);
  // One flat list with the headings in it: an incident that changes status moves without
  // remounting, so its timeline and the result of the action stay on screen.
  const rows: ReactNode[] = [];
  for (const status of INCIDENT_STATUSES) {
    const list = groups[status];
    if (list.length === 0 && status !== "open") continue;
    rows.push(
      <h2 key={`h-${status}`} className="section-title" data-testid={`section-${status}`}>
        {TITLES[status]} <span className="muted">({list.length})</span>
      </h2>,
    );
    if (list.length === 0) rows.push(<p key="none-open" className="muted note" data-testid="no-open-incidents">No open incidents.</p>);
    for (const incident of list)
      rows.push(
        <IncidentCard
          key={incident.incident_id}
          incident={incident}
          silences={silences.data ?? []}
          now={now}
          focused={incident.incident_id === focus}
        />,
      );
  }

  return (
    <section aria-label="Incidents" data-testid="incidents-page">
      {query.isError ? (
        <div className="banner" role="alert" data-testid="incidents-stale">
          Incidents are not updating ({query.error.message}). Retrying every 5 s.
        </div>
      ) : null}
      {focus !== undefined && !query.data.incidents.some((i) => i.incident_id === focus) ? (
        <p className="muted note" data-testid="focus-missing">
          Incident <code>{focus}</code> is not open, acknowledged or resolved in the last 24 hours.
        </p>
      ) : null}
      {query.data.incidents.length === 0 ? (
        <EmptyState title="No incidents" testId="empty-incidents">
          <p className="muted">
            Related insights are grouped into incidents. Nothing is open or was resolved in the last 24 hours; single findings are in the{" "}
            <Link href={FEED_PATH}>insights feed</Link>.
          </p>
        </EmptyState>
      ) : (
        <div className="incidents" data-testid="incidents">
          {rows}
        </div>
      )}
      {query.data.more ? <p className="muted note">More open or acknowledged incidents exist than one page shows.</p> : null}
      <Silences query={silences} />
    </section>
  );
}

/** The active silences, each with a Remove button (`DELETE /silences/{id}`). */
function Silences({ query }: { query: UseQueryResult<Silence[]> }) {
  if (query.data === undefined) {
    return query.isError ? <p className="muted note">Silences unavailable: {query.error.message}</p> : null;
  }
  const active = query.data.filter((s) => (parseTime(s.ends_at) ?? 0) > Date.now());
  if (active.length === 0) return null;
  return (
    <section aria-label="Active silences">
      <h2 className="section-title">Active silences</h2>
      <ul className="silences" data-testid="silences">
        {active.map((s) => (
          <SilenceRow key={s.silence_id} silence={s} />
        ))}
      </ul>
    </section>
  );
}

function SilenceRow({ silence }: { silence: Silence }) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const key = silencesKey(api);
  const remove = useMutation({
    mutationFn: () => api.deleteSilence(silence.silence_id),
    onSuccess: () => queryClient.setQueryData<Silence[]>(key, (list) => list?.filter((s) => s.silence_id !== silence.silence_id)),
    onSettled: () => queryClient.invalidateQueries({ queryKey: key }),
  });
  return (
    <li className="silence" data-testid="silence" data-host={silence.host}>
      <code>{silence.host}</code>
      <span className="muted">
        {silence.metric === "*" ? "all metrics" : silence.metric} · until {formatAbsolute(silence.ends_at)}
        {silence.comment ? ` · ${silence.comment}` : ""}
      </span>
      <button type="button" className="button small" disabled={remove.isPending} onClick={() => remove.mutate()}>
        {remove.isPending ? "Removing…" : "Remove"}
      </button>
      {remove.isError ? (
        <span className="action-error" role="alert">
          Couldn't remove: {remove.error.message}
        </span>
      ) : null}
    </li>
  );
}
