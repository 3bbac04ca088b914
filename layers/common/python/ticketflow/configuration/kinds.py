"""Every kind of run-time configuration, what validates it, and who may change it.

One registry, so the admin API, the what-if replay, import and export treat every kind alike.
A kind is one JSON document (``defaults/<kind>.json`` ships with the package). Kinds whose
document holds a list of things with ids (articles, policies, calendars) name that list as
their ``collection``, so the API can also get, put and delete one item at a time.

Validation is the document's own pydantic model, then the references between kinds (a route
to a team that does not exist, an SLA policy on an unknown calendar, an article filed under a
subcategory the classifier cannot produce): each would fail quietly at run time, so each is a
422 naming the field before it can go live.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError, model_validator

from ticketflow.configuration.document import Document
from ticketflow.directory import Role
from ticketflow.errors import NotFound, ValidationFailed


@dataclass(frozen=True)
class Kind:
    name: str
    title: str
    model: Callable[[Any], Any]  # validates a whole document, returns the parsed model
    collection: str | None = None  # the document's list of items keyed by "id"
    # Who may propose a change for an admin to approve (admins change every kind directly).
    proposers: frozenset[Role] = field(default_factory=lambda: frozenset({Role.ADMIN}))


# ---------------------------------------------------------------- documents without a model of their own

Cue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def _items(raw: list[Any], model: Any, collection: str) -> list[Any]:
    """Each item parsed by ``model`` (its errors named ``<collection>.<index>.<field>``), ids unique."""
    seen: set[str] = set()
    parsed = []
    for index, item in enumerate(raw):
        try:
            value = model.model_validate(item)
        except ValidationError as error:
            raise _nested(error, f"{collection}.{index}") from None
        if value.id in seen:
            raise ValueError(f"{collection}.{index}.id: {value.id!r} is used twice")
        seen.add(value.id)
        parsed.append(value)
    return parsed


class KnowledgeDocument(Document):
    escalation_cues: list[Cue] = Field(default_factory=list, max_length=500)
    articles: list[Any] = Field(max_length=2000)

    @model_validator(mode="after")
    def _articles(self) -> KnowledgeDocument:
        from ticketflow.knowledge.articles import Article

        self.articles = _items(self.articles, Article, "articles")
        return self


class CalendarsDocument(Document):
    calendars: list[Any] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _calendars(self) -> CalendarsDocument:
        from ticketflow.calendars import Calendar

        self.calendars = _items(self.calendars, Calendar, "calendars")
        return self


class _NestedError(ValueError):
    def __init__(self, details: list[dict[str, str]]):
        super().__init__("; ".join(f"{d['field']}: {d['message']}" for d in details))
        self.details = details


def _nested(error: ValidationError, prefix: str) -> _NestedError:
    return _NestedError([{"field": _join(prefix, e["loc"]), "message": _message(e)} for e in error.errors()])


def _join(prefix: str, loc: tuple | list) -> str:
    return ".".join([prefix, *(str(part) for part in loc)]) if loc else prefix


# ---------------------------------------------------------------- the registry


def _registry() -> dict[str, Kind]:
    # Imported here: each model lives with the code that runs it, and some of those modules
    # read this registry indirectly (runtime_config), so importing them at module level would loop.
    from ticketflow import assignment, notifications, sla
    from ticketflow.classification.rules import ClassificationRules
    from ticketflow.directory import AgentsDocument, TeamsDocument
    from ticketflow.reports.definitions import ReportDefinitions
    from ticketflow.surveys.rules import SurveyRules

    kinds = (
        Kind("classification", "Classification rules and priority signals", ClassificationRules.model_validate),
        Kind(
            "knowledge",
            "Knowledge-base articles and reply templates",
            KnowledgeDocument.model_validate,
            collection="articles",
            proposers=frozenset({Role.ADMIN, Role.SUPERVISOR}),
        ),
        Kind("routing", "Routing: category to team, skills, seniority", assignment.Routing.model_validate),
        Kind("sla", "SLA policies and thresholds", sla.SlaConfig.model_validate, collection="policies"),
        Kind("calendars", "Business calendars and holidays", CalendarsDocument.model_validate, collection="calendars"),
        Kind("surveys", "Satisfaction survey rules", SurveyRules.model_validate),
        Kind(
            "notifications",
            "Who is told of P1 tickets, SLA breaches and low scores",
            notifications.NotificationSettings.model_validate,
        ),
        Kind("reports", "KPI definitions (FCR, backlog ages)", ReportDefinitions.model_validate),
        Kind("teams", "Teams: name, supervisor, manager", TeamsDocument.model_validate, collection="teams"),
        Kind(
            "agents",
            "People: role, teams, skills, capacity, seniority, contact, quiet hours",
            AgentsDocument.model_validate,
            collection="agents",
        ),
    )
    return {kind.name: kind for kind in kinds}


_kinds: dict[str, Kind] | None = None


def kinds() -> dict[str, Kind]:
    global _kinds
    if _kinds is None:
        _kinds = _registry()
    return _kinds


def kind(name: str) -> Kind:
    found = kinds().get(name)
    if found is None:
        raise NotFound(f"no configuration kind {name!r}; known: {', '.join(kinds())}")
    return found


def validate(name: str, data: Any, *, field: str = "data") -> Any:
    """The parsed document, or ValidationFailed whose details name each bad field as
    ``<field>.<path>`` (e.g. ``data.policies.0.calendar``)."""
    spec = kind(name)
    if not isinstance(data, dict):
        raise ValidationFailed.field(field, "must be a JSON object")
    try:
        return spec.model(data)
    except _NestedError as error:
        raise _failed([{**d, "field": f"{field}.{d['field']}"} for d in error.details]) from None
    except ValidationError as error:
        details = []
        for e in error.errors():
            nested = (e.get("ctx") or {}).get("error")
            if isinstance(nested, _NestedError):
                details += [{**d, "field": f"{field}.{d['field']}"} for d in nested.details]
            else:
                details.append({"field": _join(field, e["loc"]), "message": _message(e)})
        raise _failed(details) from None


def _message(error: Mapping[str, Any]) -> str:
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


_FIELD_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\.[\w-]+)*$")


def _failed(details: list[dict[str, str]]) -> ValidationFailed:
    # A rule on the whole document names the field it is about at the start of its message
    # ("policies.2: ..."): lift it into the field, so a client can point at it.
    lifted = []
    for d in details:
        head, sep, rest = d["message"].partition(": ")
        lifted.append({"field": f"{d['field']}.{head}", "message": rest} if sep and _FIELD_PATH.match(head) else d)
    message = "; ".join(f"{d['field']}: {d['message']}" for d in lifted[:5])
    return ValidationFailed(message, details=lifted)


# ---------------------------------------------------------------- references between kinds


def check_references(name: str, parsed: Any, other: Callable[[str], Any], *, field: str = "data") -> None:
    """422 if ``parsed`` (a validated document of kind ``name``) points at something that the
    other kinds (``other(kind)`` → their parsed document) or the directory do not have."""
    problems: list[dict[str, str]] = []
    if name == "routing":
        teams = {team.id for team in other("teams").teams}
        taxonomy = other("classification").subcategories()
        categories = {category for category, _ in taxonomy.values()}
        for key, team in parsed.routes.items():
            category, _, subcategory = key.partition("/")
            known = category in categories and (subcategory == "*" or taxonomy.get(subcategory, ("",))[0] == category)
            if not known:
                problems.append({"field": f"{field}.routes.{key}", "message": "no such category/subcategory"})
            if teams and team not in teams:
                problems.append({"field": f"{field}.routes.{key}", "message": f"no team {team!r}"})
        if teams and parsed.fallback_team not in teams:
            problems.append({"field": f"{field}.fallback_team", "message": f"no team {parsed.fallback_team!r}"})
    elif name == "sla":
        calendars = {c.id for c in other("calendars").calendars}
        for index, policy in enumerate(parsed.policies):
            if policy.calendar not in calendars:
                problems.append(
                    {"field": f"{field}.policies.{index}.calendar", "message": f"no calendar {policy.calendar!r}"}
                )
    elif name == "knowledge":
        taxonomy = other("classification").subcategories()
        for index, article in enumerate(parsed.articles):
            if taxonomy.get(article.subcategory, ("",))[0] != article.category:
                problems.append(
                    {
                        "field": f"{field}.articles.{index}.subcategory",
                        "message": f"{article.category}/{article.subcategory} is not in the classification taxonomy",
                    }
                )
    elif name in ("teams", "agents"):
        # Teams and agents point at each other (a person's teams; a team's supervisor and
        # manager). The one changed is checked both ways: its own references, and that it still
        # has whatever the other points at (a team removed while people are in it, a supervisor
        # removed from the agents), so the other kind never dangles unseen.
        teams = parsed if name == "teams" else other("teams")
        agents = parsed if name == "agents" else other("agents")
        team_ids = {team.id for team in teams.teams}
        people = {person.id for person in agents.agents}
        for index, person in enumerate(agents.agents):
            for position, team in enumerate(person.teams):
                if team not in team_ids:
                    problems.append(
                        {"field": f"{field}.agents.{index}.teams.{position}", "message": f"no team {team!r}"}
                        if name == "agents"
                        else {"field": f"{field}.teams", "message": f"no team {team!r}, which {person.id!r} is in"}
                    )
        for index, team in enumerate(teams.teams):
            for role in ("supervisor", "manager"):
                who = getattr(team, role)
                if who and who not in people:
                    problems.append(
                        {"field": f"{field}.teams.{index}.{role}", "message": f"no person {who!r}"}
                        if name == "teams"
                        else {"field": f"{field}.agents", "message": f"no person {who!r}, the {role} of {team.id!r}"}
                    )
    if problems:
        raise _failed(problems)
