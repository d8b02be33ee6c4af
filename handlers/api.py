"""What every API Lambda shares: the resolver, CORS, JSON errors, route binding."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from botocore.exceptions import ConnectionError as BotoConnectionError

from handlers.definitions import routes_for
from iops.dal.dynamo import is_retryable
from iops.errors import BadRequest
from iops.settings import ApiSettings

logger = Logger(service="iops-api")


class NotFound(LookupError):
    """A resource the client asked for does not exist (404 with a JSON body)."""


def json_error(status: int, message: str, details: object = None) -> Response:
    body: dict = {"message": message}
    if details is not None:
        body["details"] = details
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def build_resolver(settings: ApiSettings) -> APIGatewayRestResolver:
    origins = list(settings.allowed_origins) or ["*"]
    cors = CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:],
        allow_headers=["Content-Type", "X-Api-Key", "Authorization"],
        max_age=600,
    )
    app = APIGatewayRestResolver(cors=cors)

    @app.exception_handler(BadRequest)
    def _bad_request(exc: BadRequest) -> Response:
        return json_error(exc.status, str(exc), exc.details)

    @app.exception_handler(NotFound)
    def _not_found(exc: NotFound) -> Response:
        return json_error(404, str(exc))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # The one place an unforeseen failure becomes a response, logged with the request id it
        # carries: a 503 to retry when the database is unreachable or throttling, else a 500.
        request_id = (app.current_event.request_context.request_id or "") if app.current_event else ""
        logger.exception("unhandled error", extra={"request_id": request_id})
        if isinstance(exc, BotoConnectionError) or is_retryable(exc):
            response = json_error(503, "storage unavailable; retry", {"requestId": request_id})
            response.headers["Retry-After"] = "1"
            return response
        return json_error(500, "internal error; quote this request id when reporting it", {"requestId": request_id})

    @app.not_found
    def _no_route(_exc: Exception) -> Response:
        return json_error(404, f"no route for {app.current_event.http_method} {app.current_event.path}")

    return app


def bind(app: APIGatewayRestResolver, function: str, handlers: dict[tuple[str, str], Callable]) -> None:
    """Attach one handler per route this function serves in `definitions.ROUTES`, no more, no less."""
    expected = {(r.method, r.path) for r in routes_for(function)}
    if set(handlers) != expected:
        raise RuntimeError(f"{function}: handlers for {sorted(handlers)} but routes are {sorted(expected)}")
    for (method, path), fn in handlers.items():
        app.route(path.replace("{", "<").replace("}", ">"), method=method)(fn)
