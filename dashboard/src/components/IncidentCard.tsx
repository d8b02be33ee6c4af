import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import type { Incident, Silence, Verdict } from "../api/incidents";
import { VERDICTS } from "../api/incidents";
import type { Insight } from "../api/types";
import { useServices } from "../context";
import {
  activeSilence,
  incidentDetailQuery,
  incidentsKey,
  SILENCE_HOURS,
  silenceFor,
  silencesKey,
  timeline,
  withIncident,
  type IncidentBoard,
} from "../lib/incidents";
import { hostHref, insightHref } from "../lib/routes";
import { formatAbsolute, formatClock, formatRelative, parseTime } from "../lib/time";
import { Link } from "../router";
import { formatValue } from "./AlertCard";
import { SeverityBadge } from "./SeverityBadge";

type Action = "ack" | "resolve";
const DOING: Record<Action, string> = { ack: "acknowledge", resolve: "resolve" };

/** One incident: what and where, Acknowledge / Resolve, silencing its host, and its insights' timeline. */
export function IncidentCard({
  incident,
  silences,
  now,
  focused = false,
}: {
  incident: Incident;
  silences: readonly Silence[];
  now: number;
  focused?: boolean;
}) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const key = incidentsKey(api);
  const [expanded, setExpanded] = useState(incident.status !== "resolved" || focused);
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    if (focused) ref.current?.scrollIntoView?.({ block: "start" });
  }, [focused]);
  const change = useMutation({
    mutationFn: (action: Action) => (action === "ack" ? api.ackIncident(incident.incident_id) : api.resolveIncident(incident.incident_id)),
    onSuccess: async (updated) => {
      await queryClient.cancelQueries({ queryKey: key }); // a poll sent before the change must not undo it
      queryClient.setQueryData<IncidentBoard>(key, (board) => board && withIncident(board, updated));
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: key }),
  });
  const { status, severity } = incident;
  const count = incident.insight_count;
  const by = status === "acknowledged" ? incident.acknowledged_by : status === "resolved" ? incident.resolved_by : null;

  return (
    <article
      ref={ref}
      className={`card incident sev-border-${severity.toLowerCase()}${focused ? " focused" : ""}`}
      aria-current={focused ? "true" : undefined}
      data-testid="incident-card"
      data-incident-id={incident.incident_id}
      data-status={status}
      data-severity={severity}
      data-hosts={incident.hosts.join(" ")}
    >
      <div className="alert-head">
        <SeverityBadge severity={severity} />
        <span className={`status status-${status}`} data-testid="incident-status">
          {status}
        </span>
        {by ? <span className="muted">by {by}</span> : null}
        <span className="muted">
          {count} insight{count === 1 ? "" : "s"}
        </span>
        <time dateTime={incident.opened_at} title={`Opened ${formatAbsolute(incident.opened_at)}`} className="muted">
          {status === "resolved" && incident.resolved_at
            ? `resolved ${formatRelative(incident.resolved_at, now)}`
            : `opened ${formatRelative(incident.opened_at, now)}`}
        </time>
      </div>
      <div className="alert-where">
        {incident.hosts.map((h) => (
          <Link key={h} href={hostHref(h)} className="host">
            {h}
          </Link>
        ))}
        {incident.metrics.map((m) => (
          <span key={m} className="metric">
            {m}
          </span>
        ))}
      </div>
      {incident.summary ? <p className="explanation">{incident.summary}</p> : null}
      {status !== "resolved" ? (
        <div className="actions">
          {status === "open" ? (
            <button type="button" className="button small primary" disabled={change.isPending} onClick={() => change.mutate("ack")}>
              {change.isPending && change.variables === "ack" ? "Acknowledging…" : "Acknowledge"}
            </button>
          ) : null}
          <button type="button" className="button small" disabled={change.isPending} onClick={() => change.mutate("resolve")}>
            {change.isPending && change.variables === "resolve" ? "Resolving…" : "Resolve"}
          </button>
          <SilenceControl incident={incident} silences={silences} />
        </div>
      ) : null}
      {change.isError ? (
        <p className="action-error" role="alert" data-testid="incident-error">
          Couldn't {DOING[change.variables]}: {change.error.message}
        </p>
      ) : null}
      {expanded ? (
        <IncidentTimeline incident={incident} />
      ) : (
        <button type="button" className="link-button" onClick={() => setExpanded(true)}>
          Show the timeline ({count} insight{count === 1 ? "" : "s"})
        </button>
      )}
    </article>
  );
}

/** "Silence this host for 1 h / 4 h / 24 h": `POST /silences` for the host exactly, every metric. */
function SilenceControl({ incident, silences }: { incident: Incident; silences: readonly Silence[] }) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const [host, setHost] = useState(incident.hosts[0] ?? "");
  const silence = useMutation({
    mutationFn: (hours: number) => api.createSilence(silenceFor(host, hours, Date.now(), incident.incident_id)),
    onSuccess: (created) => queryClient.setQueryData<Silence[]>(silencesKey(api), (list) => [...(list ?? []), created]),
    onSettled: () => queryClient.invalidateQueries({ queryKey: silencesKey(api) }),
  });
  if (host === "") return null;
  const active = activeSilence(silences, host, Date.now());
  return (
    <div className="silence-control" data-testid="silence-control">
      {incident.hosts.length > 1 ? (
        <label>
          <span className="visually-hidden">Host to silence</span>
          <select value={host} onChange={(e) => setHost(e.target.value)} data-testid="silence-host">
            {incident.hosts.map((h) => (
              <option key={h} value={h}>
                {h}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      {active ? (
        <span className="muted" data-testid="silenced">
          {host} silenced until {formatClock(parseTime(active.ends_at) ?? 0)}
        </span>
      ) : (
        <span className="chips" role="group" aria-label={`Silence ${host} for`}>
          <span className="muted">Silence this host for…</span>
          {SILENCE_HOURS.map((h) => (
            <button key={h} type="button" className="chip" disabled={silence.isPending} onClick={() => silence.mutate(h)}>
              {h} h
            </button>
          ))}
        </span>
      )}
      {silence.isError ? (
        <span className="action-error" role="alert">
          Couldn't silence {host}: {silence.error.message}
        </span>
      ) : null}
    </div>
  );
}

/** The incident's insights in the order they happened (`GET /incidents/{id}`), each with feedback buttons. */
function IncidentTimeline({ incident }: { incident: Incident }) {
  const { api } = useServices();
  const detail = useQuery(incidentDetailQuery(api, incident));
  if (detail.data === undefined) {
    return detail.isError ? (
      <p className="action-error" role="alert">
        Couldn't load the timeline: {detail.error.message}
      </p>
    ) : (
      <p className="muted note">Loading the timeline…</p>
    );
  }
  const items = timeline(detail.data.insights);
  if (items.length === 0) return <p className="muted note">No insights in this incident.</p>;
  return (
    <>
      {incident.insight_count > items.length ? (
        <p className="muted note">
          The newest {items.length} of {incident.insight_count} insights:
        </p>
      ) : null}
      <ol className="timeline" data-testid="incident-timeline">
        {items.map((insight) => (
          <TimelineItem key={insight.alert_id} insight={insight} />
        ))}
      </ol>
    </>
  );
}

function TimelineItem({ insight }: { insight: Insight }) {
  return (
    <li className={`tl-item sev-border-${insight.severity.toLowerCase()}`} data-testid="timeline-insight" data-alert-id={insight.alert_id}>
      <div className="tl-head">
        <time dateTime={insight.timestamp} title={formatAbsolute(insight.timestamp)}>
          {formatClock(parseTime(insight.timestamp) ?? 0)}
        </time>
        <SeverityBadge severity={insight.severity} />
        <span className="host">{insight.entity_id}</span>
        {insight.metric ? <span className="metric">{insight.metric}</span> : null}
        {insight.observed !== null ? (
          <span className="muted">
            {formatValue(insight.observed)}
            {insight.expected !== null ? ` (expected ${formatValue(insight.expected)})` : ""}
          </span>
        ) : null}
        <Link href={insightHref(insight.alert_id)} className="details-link">
          Details →
        </Link>
      </div>
      {insight.explanation ? <p className="explanation">{insight.explanation}</p> : null}
      <Feedback insightId={insight.alert_id} />
    </li>
  );
}

/** The four verdicts (`POST /insights/{id}/feedback`), with an optional comment. */
function Feedback({ insightId }: { insightId: string }) {
  const { api } = useServices();
  const [comment, setComment] = useState("");
  const send = useMutation({ mutationFn: (verdict: Verdict) => api.sendFeedback(insightId, verdict, comment.trim()) });
  if (send.isSuccess) {
    const label = VERDICTS.find((v) => v.verdict === send.variables)?.label ?? send.variables;
    return (
      <p className="feedback muted" data-testid="feedback-sent">
        Thanks: marked “{label}”.{" "}
        <button type="button" className="link-button" onClick={() => send.reset()}>
          Change
        </button>
      </p>
    );
  }
  return (
    <div className="feedback" role="group" aria-label="Feedback on this insight" data-testid="feedback">
      {VERDICTS.map(({ verdict, label }) => (
        <button key={verdict} type="button" className="chip" disabled={send.isPending} onClick={() => send.mutate(verdict)}>
          {label}
        </button>
      ))}
      <input
        className="feedback-comment"
        name="comment"
        placeholder="Comment (optional)"
        aria-label="Comment"
        maxLength={1000}
        value={comment}
        onChange={(e) => setComment(e.target.value)}
      />
      {send.isError ? (
        <span className="action-error" role="alert">
          Couldn't send feedback: {send.error.message}
        </span>
      ) : null}
    </div>
  );
}
