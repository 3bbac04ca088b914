"""GET /dashboard: the supervisors' dashboard page, and its static assets.

Both are public and hold no data: the page's script fetches every figure from /reports/*
with the supervisor's token (see ticketflow.reports.dashboard).
"""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponseContentSchema
from aws_lambda_powertools.event_handler.router import Router

from ticketflow.reports import dashboard

router = Router()


_TEXT: OpenAPIResponseContentSchema = {"schema": {"type": "string"}}


@router.get(
    "/dashboard",
    summary="The supervisors' dashboard (HTML, no data)",
    tags=["dashboard"],
    responses={200: {"description": "The page", "content": {"text/html": _TEXT}}},
)
def dashboard_page():  # untyped on purpose: Powertools would model a Response
    """A static page: its script asks for a supervisor's token (`#token=…`, Cognito's
    `#id_token=…`, or a form) and draws the KPIs from /reports/*. `?lang=zh|en` chooses the
    language (default: the browser's, else Chinese)."""
    event = router.current_event
    lang = dashboard.language(event.get_query_string_value("lang"), event.headers.get("accept-language"))
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=dashboard.page(lang),
        headers=dashboard.PAGE_HEADERS,
    )


@router.get(
    "/dashboard/assets/<name>",
    summary="The dashboard's script, styles and Chart.js",
    tags=["dashboard"],
    responses={
        200: {"description": "The file", "content": {"text/javascript": _TEXT, "text/css": _TEXT}},
        404: {"description": "Not one of the dashboard's files"},
    },
)
def dashboard_asset(name: str):  # untyped: as above
    """Only the dashboard's own files (dashboard.js, dashboard.css, chart.umd.min.js); any other
    name is a 404. Cached for a day: the page asks for them with a content hash."""
    body, content_type = dashboard.asset(name)
    return Response(status_code=200, content_type=content_type, body=body, headers=dashboard.ASSET_HEADERS)
