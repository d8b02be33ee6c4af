"""Incident, silence and feedback routes, served by the insights Lambda (`handlers.insights_api` binds them).

Every mutation records who did it: the user from the authorizer's claims (``cognito:username``, else
``email``), which API Gateway's COGNITO_USER_POOLS authorizer and the local API both put in the event.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from handlers.api import NotFound
from iops import models
from iops.dal import aws, insights, pagination
from iops.dal import incidents as incident_store
from iops.errors import BadRequest
from iops.logic import feedback, incidents, params
from iops.models.common import ENTITY_RE, INSIGHTS_DEFAULT_LIMIT, INSIGHTS_MAX_LIMIT, iso, parse_timestamp
from iops.settings import InsightsApiSettings

MAX_LISTED_INSIGHTS = 50
"""``GET /incidents/{id}`` embeds at most this many of its insights (the newest); ids list the rest."""
SILENCE_KEPT_DAYS = 7


def instant(name: str, raw: str) -> int:
    """An ISO 8601 time (naive means UTC) as epoch ms; any time after 2000 (a silence may end next month)."""
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 time, got {raw!r}") from None
    ms = int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp() * 1000)
    if ms < 946_684_800_000:
        raise BadRequest(f"{name} must be after 2000-01-01")
    return ms


def _now_ms() -> int:
    return int(time.time() * 1000)


def _body(app: APIGatewayRestResolver, model: Any) -> Any:
    from pydantic import ValidationError  # pydantic loads on the first body, not when the function starts

    try:
        return model.model_validate_json(app.current_event.body or "")
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()]
        raise BadRequest("; ".join(problems)) from None


def user_of(app: APIGatewayRestResolver) -> str:
    """Who is signed in (the authorizer's claims); API Gateway never calls us for these routes without one."""
    claims = ((app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}).get("claims") or {}
    user = claims.get("cognito:username") or claims.get("email")
    if not user:
        raise BadRequest("no signed-in user in the request", status=401)
    return str(user)


def handlers_for(app: APIGatewayRestResolver, settings: InsightsApiSettings) -> dict[tuple[str, str], Callable]:
    """The route handlers, bound to ``app`` (its current event) and the function's settings."""
    cfg = settings.incidents

    def ddb() -> Any:
        return aws.client("dynamodb")

    def incident_or_404(incident_id: str, call: Callable[[], dict]) -> dict:
        try:
            return call()
        except incidents.NotFound as exc:
            raise NotFound(str(exc)) from None

    def list_incidents() -> dict:
        q = app.current_event.query_string_parameters or {}
        status = (q.get("status") or "").lower() or None
        if status is not None and status not in incidents.STATUSES:
            raise BadRequest(f"status must be one of {', '.join(incidents.STATUSES)}")
        host = q.get("host") or None
        if host is not None and not ENTITY_RE.fullmatch(host):
            raise BadRequest("host has characters a hostname cannot have")
        found, start = incident_store.query(
            ddb(),
            cfg.table,
            status=status,
            host=host,
            since_ms=params.parse_time_param("since", q.get("since")),
            limit=params.parse_limit(q.get("limit"), default=INSIGHTS_DEFAULT_LIMIT, maximum=INSIGHTS_MAX_LIMIT),
            token=pagination.decode_token(q.get("nextToken")),
        )
        return {"incidents": [incidents.to_api(i) for i in found], "nextToken": pagination.encode_token(start)}

    def get_incident(id: str) -> dict:  # noqa: A002 - the route's path parameter is called id
        def read() -> dict:
            found = incident_store.get(ddb(), cfg.table, id, consistent=False) if id.startswith("inc-") else None
            if found is None:
                raise incidents.NotFound(f"no incident with id {id!r}")
            return found

        incident = incident_or_404(id, read)
        listed = [
            insights.get_insight(ddb(), settings.insights_table, i)
            for i in incident["insight_ids"][-MAX_LISTED_INSIGHTS:]
        ]
        return incidents.to_api(incident) | {"insights": [i for i in listed if i is not None]}

    def comment() -> str:
        return _body(app, models.api.IncidentAction).comment if (app.current_event.body or "").strip() else ""

    def ack(id: str) -> dict:  # noqa: A002
        user, note = user_of(app), comment()
        return incidents.to_api(
            incident_or_404(id, lambda: incidents.acknowledge(ddb(), cfg, id, user, _now_ms(), note))
        )

    def resolve(id: str) -> dict:  # noqa: A002
        user, note = user_of(app), comment()
        return incidents.to_api(incident_or_404(id, lambda: incidents.resolve(ddb(), cfg, id, user, _now_ms(), note)))

    def create_silence() -> Response:
        user = user_of(app)
        body = _body(app, models.api.SilenceRequest)
        now = _now_ms()
        starts = instant("starts_at", body.starts_at) if body.starts_at else now
        ends = instant("ends_at", body.ends_at)
        if ends <= max(starts, now):
            raise BadRequest("ends_at must be after starts_at and in the future")
        silence = {
            "silenceId": "sil-" + secrets.token_hex(12),
            "host": body.host,
            "metric": body.metric,
            "starts_at": starts,
            "ends_at": ends,
            "comment": body.comment,
            "created_by": user,
            "created_at": now,
            "ttl": ends // 1000 + SILENCE_KEPT_DAYS * 86_400,
        }
        incident_store.put_silence(ddb(), cfg.silences_table, silence)
        return Response(201, content_types.APPLICATION_JSON, silence_api(silence))

    def list_silences() -> dict:
        found = incident_store.active_silences(ddb(), cfg.silences_table, _now_ms())
        return {"silences": [silence_api(s) for s in sorted(found, key=lambda s: (s["starts_at"], s["silenceId"]))]}

    def delete_silence(id: str) -> dict:  # noqa: A002
        user = user_of(app)
        now = _now_ms()
        if not id.startswith("sil-") or not incident_store.end_silence(
            ddb(), cfg.silences_table, id, now, user, now // 1000 + SILENCE_KEPT_DAYS * 86_400
        ):
            raise NotFound(f"no silence with id {id!r}")
        ended = incident_store.get_silence(ddb(), cfg.silences_table, id)
        assert ended is not None
        return silence_api(ended)

    def give_feedback(id: str) -> Response:  # noqa: A002
        user = user_of(app)
        body = _body(app, models.api.FeedbackRequest)
        found = insights.get_insight(ddb(), settings.insights_table, id)
        if found is None:
            raise NotFound(f"no insight with id {id!r}")
        fields = {k: v for k, v in found.items() if k != "timestamp"}
        insight = models.Insight.model_validate(fields | {"timestamp_ms": parse_timestamp(found["timestamp"])})
        answer = feedback.record(ddb(), cfg.feedback_table, insight, body.verdict, body.comment, user, _now_ms())
        return Response(201, content_types.APPLICATION_JSON, answer)

    return {
        ("GET", "/incidents"): list_incidents,
        ("GET", "/incidents/{id}"): get_incident,
        ("POST", "/incidents/{id}/ack"): ack,
        ("POST", "/incidents/{id}/resolve"): resolve,
        ("POST", "/silences"): create_silence,
        ("GET", "/silences"): list_silences,
        ("DELETE", "/silences/{id}"): delete_silence,
        ("POST", "/insights/{id}/feedback"): give_feedback,
    }


def silence_api(silence: dict[str, Any]) -> dict[str, Any]:
    """The API form of a silence (`iops.models.api.Silence`)."""
    return {
        "silence_id": silence["silenceId"],
        "host": silence["host"],
        "metric": silence["metric"],
        "starts_at": iso(silence["starts_at"]),
        "ends_at": iso(silence["ends_at"]),
        "comment": silence.get("comment") or "",
        "created_by": silence["created_by"],
        "created_at": iso(silence["created_at"]),
        "ended_by": silence.get("ended_by"),
    }
