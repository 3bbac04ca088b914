"""Who is calling, and what they may do to which ticket.

Identity comes from the authorizer's claims (Cognito user-pool groups agent, supervisor,
admin; locally the same claims from a `ticketflow token`). Team membership comes from the
directory in the table, not from the token, so moving an agent between teams takes effect
without new tokens.

The rules: supervisors and admins act on every ticket; an agent acts on tickets assigned to
them or to one of their teams, may claim a ticket nobody has routed yet, and may not assign
(that is a supervisor's call). A person deactivated in the directory may do nothing. Everyone
else gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ticketflow.directory import Role
from ticketflow.errors import Conflict, Forbidden, Unauthorized
from ticketflow.lifecycle import Action
from ticketflow.models import ActorKind, ActorRef, Ticket
from ticketflow.storage import directory as directory_store


@dataclass(frozen=True)
class Actor:
    id: str
    role: Role
    teams: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ref(self) -> ActorRef:
        return ActorRef(kind=ActorKind.PERSON, id=self.id, role=self.role.value)

    @property
    def primary_team(self) -> str | None:
        return self.teams[0] if self.teams else None

    @property
    def oversees_all(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN)


_ROLE_RANK = {Role.AGENT: 0, Role.SUPERVISOR: 1, Role.ADMIN: 2}


def _groups(claims: dict[str, Any]) -> list[str]:
    """Cognito puts groups in `cognito:groups`: a list, or a string such as "a,b" or "[a b]"."""
    raw = claims.get("cognito:groups") or []
    if isinstance(raw, str):
        raw = raw.strip("[]").replace(",", " ").split()
    return [str(g) for g in raw]


def actor_from_claims(claims: dict[str, Any] | None) -> Actor:
    if not claims or not claims.get("sub"):
        raise Unauthorized("a signed-in person is required (Authorization: Bearer <token>)")
    roles = [Role(g) for g in _groups(claims) if g in Role._value2member_map_]
    if not roles:
        raise Forbidden("your account is in none of the groups agent, supervisor, admin")
    role = max(roles, key=_ROLE_RANK.__getitem__)
    person_id = str(claims.get("cognito:username") or claims["sub"])
    person = directory_store.get_person(person_id)
    if person is not None and not person.active:
        # Someone who left: their token verifies until it expires (an hour on Cognito), but the
        # directory says they no longer work here, so nothing is theirs, not even the tickets
        # still assigned to them. (A person absent from the directory keeps their group's
        # rights: a new install's first admin is in Cognito before the directory has anyone.)
        raise Forbidden(f"{person_id} is deactivated in the directory")
    teams = tuple(person.teams) if person else ()
    return Actor(id=person_id, role=role, teams=teams)


def _works_on(actor: Actor, ticket: Ticket) -> bool:
    return ticket.assignee == actor.id or (ticket.team is not None and ticket.team in actor.teams)


def can_view(actor: Actor, ticket: Ticket) -> bool:
    # Unrouted tickets are visible to every agent: anyone may pick them up.
    return actor.oversees_all or _works_on(actor, ticket) or ticket.team is None


def check(actor: Actor, action: Action | None, ticket: Ticket) -> None:
    """Raise Forbidden (403) or Conflict (409) unless ``actor`` may do ``action`` (None: read)."""
    if action is Action.ASSIGN and not actor.oversees_all:
        raise Forbidden("only a supervisor or an admin can assign or reassign a ticket")
    if actor.oversees_all:
        return
    if action is None:
        if not can_view(actor, ticket):
            raise Forbidden(f"ticket {ticket.number} belongs to team {ticket.team}, which is not yours")
        return
    if action is Action.ACCEPT and (ticket.team is None or _works_on(actor, ticket)):
        if ticket.assignee not in (None, actor.id):
            raise Conflict(
                f"ticket {ticket.number} is assigned to {ticket.assignee}; ask a supervisor to reassign it",
                code="assigned_to_someone_else",
            )
        return
    if action is not Action.ACCEPT and _works_on(actor, ticket):
        return
    raise Forbidden(
        f"ticket {ticket.number} is not yours: it is assigned to "
        f"{ticket.assignee or 'nobody'} in team {ticket.team or 'none'}"
    )
