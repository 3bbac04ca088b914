"""Answers are templates with ``{name}`` placeholders, filled safely.

Only plain names are looked up: no attribute or index access (``{x.__class__}``, ``{x[0]}``), no
conversions or format specs, so a template cannot reach into Python objects. Values are
inserted verbatim and never parsed again, so a customer called "{__class__}" is just that. A
missing or empty field renders a neutral phrase that reads well where the field stood.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ticketflow.knowledge.articles import Article

FALLBACKS: dict[str, dict[str, str]] = {
    "zh": {
        "customer_name": "尊敬的客户",
        "ticket_number": "稍后通知",
        "order_number": "未提供",
        "expected_response": "尽快",
        "order_status": "暂未查询到，客服专员会为您核实",
    },
    "en": {
        "customer_name": "there",
        "ticket_number": "to follow",
        "order_number": "not provided",
        "expected_response": "as soon as possible",
        "order_status": "not available yet; an agent will check it for you",
    },
}


def template_fields(template: str) -> list[str]:
    """The placeholders of a template; ValueError for anything but ``{name}`` (checked when an article is saved)."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"placeholder {{{name}}} must be a plain {{name}}, e.g. {{customer_name}}")
        names.append(name)
    return names


class _SafeFormatter(string.Formatter):
    def __init__(self, fields: Mapping[str, Any], fallbacks: Mapping[str, str]) -> None:
        self.fields = fields
        self.fallbacks = fallbacks

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[str, str]:
        # The whole name is one key: "{a.b}" or "{0}" are unknown names, not lookups.
        value = self.fields.get(field_name)
        if value is None or value == "":
            return self.fallbacks.get(field_name, ""), field_name
        return str(value), field_name

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        return value

    def format_field(self, value: Any, format_spec: str) -> str:
        return str(value)


def render_answer(article: Article, fields: Mapping[str, Any]) -> str:
    fallbacks = FALLBACKS.get(article.language, FALLBACKS["en"])
    return _SafeFormatter(fields, fallbacks).vformat(article.answer, (), {})
