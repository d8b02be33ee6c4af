import { useQuery } from "@tanstack/react-query";
import type { Insight } from "../api/types";
import { useServices } from "../context";
import { useNow } from "../hooks/useNow";
import { fleetHosts, lastReported, type FleetHost } from "../lib/fleet";
import { incidentsQuery } from "../lib/incidents";
import { hostHref } from "../lib/routes";
import { extractSeries } from "../lib/series";
import { formatAbsolute, formatRelative } from "../lib/time";
import { Link } from "../router";
import { SeverityBadge } from "./SeverityBadge";
import { Sparkline } from "./Sparkline";
import { EmptyState, ErrorState, LoadingCards } from "./States";

/** One scan page of `GET /metrics` lists the hosts; the newest points of every host are in it. */
export const SCAN_LIMIT = 1000;
/** Points per host for its sparklines (about an hour at one point a minute). */
export const SPARK_POINTS = 60;
const MAX_SPARKS = 4;
const REFRESH_MS = 30_000;
/** A host that sent nothing for this long is marked silent. */
const SILENT_MS = 5 * 60_000;

/** Every known host: when it last reported, its open incidents, and sparklines of its metrics. */
export function FleetPage({ insights }: { insights: readonly Insight[] }) {
  const { api } = useServices();
  const now = useNow(REFRESH_MS);
  const scan = useQuery({
    queryKey: ["metrics", "scan", api.baseUrl, SCAN_LIMIT],
    queryFn: ({ signal }) => api.fleetMetrics(SCAN_LIMIT, signal),
    refetchInterval: 60_000,
    retry: 1,
  });
  const board = useQuery({ ...incidentsQuery(api), refetchInterval: REFRESH_MS });
  const hosts = fleetHosts(scan.data?.points ?? [], board.data?.incidents ?? [], insights);

  return (
    <section className="page" data-testid="fleet-page">
      <div className="page-head">
        <h1>Fleet</h1>
        <span className="muted" data-testid="host-count">
          {hosts.length} host{hosts.length === 1 ? "" : "s"}
        </span>
      </div>
      {scan.isError ? <p className="action-error note">Couldn't list the hosts reporting metrics: {scan.error.message}</p> : null}
      {board.isError && board.data === undefined ? <p className="muted note">Open incidents unavailable: {board.error.message}</p> : null}
      {hosts.length > 0 ? (
        <div className="fleet" data-testid="fleet">
          {hosts.map((h) => (
            <FleetRow key={h.hostname} host={h} now={now} />
          ))}
        </div>
      ) : scan.isPending ? (
        <LoadingCards count={2} label="Loading the fleet…" />
      ) : scan.isError ? (
        <ErrorState title="Couldn't load the fleet" detail={scan.error.message} />
      ) : (
        <EmptyState title="No hosts yet" testId="empty-fleet">
          <p className="muted">Hosts appear here once they send metrics (POST /metrics).</p>
        </EmptyState>
      )}
      {scan.data?.truncated ? (
        <p className="muted note">
          Hosts come from the newest {SCAN_LIMIT} points of one scan, the open incidents and the recent insights: a host in none of
          them is not listed.
        </p>
      ) : null}
    </section>
  );
}

function FleetRow({ host, now }: { host: FleetHost; now: number }) {
  const { api } = useServices();
  const metrics = useQuery({
    queryKey: ["metrics", "spark", api.baseUrl, host.hostname, SPARK_POINTS],
    queryFn: ({ signal }) => api.hostMetrics(host.hostname, null, SPARK_POINTS, signal),
    refetchInterval: REFRESH_MS,
    retry: 1,
  });
  const points = metrics.data?.points ?? [];
  const series = [...extractSeries(points).entries()];
  const last = lastReported(points);
  const lastIso = last === null ? null : new Date(last).toISOString();
  const silent = last !== null && now - last > SILENT_MS;
  const open = host.incidents.filter((i) => i.status === "open").length;
  const acknowledged = host.incidents.length - open;

  return (
    <article className="card fleet-row" data-testid="fleet-host" data-host={host.hostname} data-open-incidents={host.incidents.length}>
      <div className="fleet-head">
        <Link href={hostHref(host.hostname)} className="host">
          {host.hostname}
        </Link>
        <span className={silent ? "silent" : "muted"} data-testid="last-reported" title={lastIso ? formatAbsolute(lastIso) : undefined}>
          {lastIso
            ? `${silent ? "silent, last reported" : "reported"} ${formatRelative(lastIso, now)}`
            : metrics.isPending
              ? "…"
              : metrics.isError
                ? `metrics unavailable (${metrics.error.message})`
                : "no metrics"}
        </span>
        {host.worst ? (
          <Link href="/" className="fleet-incidents" data-testid="open-incidents">
            <SeverityBadge severity={host.worst} /> {open > 0 ? `${open} open` : ""}
            {open > 0 && acknowledged > 0 ? " · " : ""}
            {acknowledged > 0 ? `${acknowledged} acknowledged` : ""}
          </Link>
        ) : (
          <span className="muted">no open incidents</span>
        )}
      </div>
      {series.length > 0 ? (
        <div className="sparks">
          {series.slice(0, MAX_SPARKS).map(([name, pts]) => (
            <Sparkline key={name} name={name} points={pts} />
          ))}
          {series.length > MAX_SPARKS ? (
            <Link href={hostHref(host.hostname)} className="muted">
              +{series.length - MAX_SPARKS} more
            </Link>
          ) : null}
        </div>
      ) : null}
    </article>
  );
}
