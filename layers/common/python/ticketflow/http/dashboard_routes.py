"""GET /dashboard: the supervisors' dashboard page, and its static assets."""

from aws_lambda_powertools.event_handler.router import Router

router = Router()
