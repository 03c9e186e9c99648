"""Who may do which action on which case, in which state: the only copy.

The services check every command against this table before running it, the API
and the pages ask it which buttons to show and which requests to refuse, and
the authorization-matrix tests read it for what to expect. Two questions are
kept apart, because they answer differently:

* **may this role do this at all?** (:func:`allowed`, :func:`require`) — no:
  :class:`~aftersales.domain.errors.Forbidden`, answered 403;
* **may it be done to this case now?** (:func:`may_take`) — the state or the
  programme says no: the case's own methods raise
  :class:`~aftersales.domain.errors.IllegalTransition` with the rule, answered 422.

Whether a party may *see* a case (a buyer their own items', a provider the
cases dispatched to it, …) is a question of data, answered by the read models'
scoping; a case one may not see is answered as one that does not exist.

Lifecycle steps (accept, give_solution, resolve, …) take their roles and
source states from the state machines in :mod:`aftersales.domain.lifecycle`;
this table adds every other command.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from aftersales.domain.errors import Forbidden
from aftersales.domain.lifecycle import LIFECYCLES, Programme, Role

# People who act on cases: not the platform itself, nor a marketplace's integration
# account (it sends master data and events, and takes no case action).
_EVERYONE = frozenset(Role) - {Role.SYSTEM, Role.INTEGRATION}


class Action(StrEnum):
    """Commands beside the lifecycle steps, each with its rule where one applies."""

    REQUEST_HELP = "request_help"  # OH-3: the buyer presses one-click help
    REPORT_REPAIR = "report_repair"  # NW-2: by the buyer, or an agent on the hotline
    OPEN_CHAT = "open_chat"  # NW-3: consultation with the brand's service centre
    CHAT_TO_REPORT = "chat_to_report"  # NW-2c
    PAUSE_CLOCK = "pause_clock"  # SS-2 exemptions
    RESUME_CLOCK = "resume_clock"
    ISSUE_QUOTE = "issue_quote"  # NW-6 paid repairs
    ANSWER_QUOTE = "answer_quote"
    FILE_COMPLAINT = "file_complaint"  # OH-7, SS-5, NW-7
    DECIDE_COMPLAINT = "decide_complaint"  # NW-7
    ATTACH_FILE = "attach_file"
    ADD_NOTE = "add_note"  # a caller's or buyer's words added to an open case
    SET_APPOINTMENT = "set_appointment"  # OH-4, SS-2: the agreed visit time
    BOOK_SLOT = "book_slot"  # SS-2: a visit window offered from the provider's windows
    DECLINE_CASE = "decline_case"  # OH-3: the provider holding a help request gives it up
    REASSIGN_CASE = "reassign_case"  # OH-3: operations hand a help request to a provider
    KEEP_SOLUTION_TEXTS = "keep_solution_texts"  # OH-4: a handler's reusable solution texts
    SEE_COMPLIANCE = "see_compliance"
    CREATE_SANDBOX = "create_sandbox"
    ADVANCE_SANDBOX = "advance_sandbox"
    # Master data and events from the marketplace (not about one case)
    LOAD_MASTER_DATA = "load_master_data"
    READ_MASTER_DATA = "read_master_data"
    SEND_EVENTS = "send_events"
    IMPORT_DATA = "import_data"  # bulk import of master data (brands, products, orders...)
    # API tokens (not about one case)
    MANAGE_OWN_TOKENS = "manage_own_tokens"  # list and revoke the caller's own
    MANAGE_ANY_TOKEN = "manage_any_token"  # list and revoke any account's


@dataclass(frozen=True)
class Permission:
    roles: frozenset[Role]
    why: str  # said to a caller whose role is refused
    programmes: frozenset[Programme] = frozenset(Programme)


def _p(*roles: Role, why: str, programmes: frozenset[Programme] | None = None) -> Permission:
    return Permission(
        frozenset(roles) | {Role.SYSTEM}, why, programmes if programmes else frozenset(Programme)
    )


ACCESS: Mapping[Action, Permission] = {
    Action.REQUEST_HELP: _p(Role.CONSUMER, why="one-click help is pressed by the buyer"),
    Action.REPORT_REPAIR: _p(
        Role.CONSUMER, Role.AGENT, why="repair reports come from buyers or hotline agents"
    ),
    Action.OPEN_CHAT: _p(
        Role.CONSUMER, Role.AGENT, why="chats are opened by buyers or hotline agents"
    ),
    Action.CHAT_TO_REPORT: _p(
        Role.CONSUMER,
        Role.BRAND,
        Role.AGENT,
        why="the buyer, the brand's service centre or an agent files it",
    ),
    Action.PAUSE_CLOCK: _p(
        Role.PROVIDER,
        Role.MERCHANT,
        Role.OPERATIONS,
        why="providers, merchants and operations pause clocks",
    ),
    Action.RESUME_CLOCK: _p(
        Role.PROVIDER,
        Role.MERCHANT,
        Role.OPERATIONS,
        why="providers, merchants and operations resume clocks",
    ),
    Action.ISSUE_QUOTE: _p(
        Role.BRAND,
        Role.PROVIDER,
        Role.MERCHANT,
        why="brands, merchants and providers quote repairs",
        programmes=frozenset({Programme.NATIONAL_WARRANTY}),
    ),
    Action.ANSWER_QUOTE: _p(
        Role.CONSUMER,
        why="the buyer answers a quote",
        programmes=frozenset({Programme.NATIONAL_WARRANTY}),
    ),
    Action.FILE_COMPLAINT: _p(
        Role.CONSUMER, Role.AGENT, why="complaints come from buyers or hotline agents"
    ),
    Action.DECIDE_COMPLAINT: _p(Role.OPERATIONS, why="operations decide complaints"),
    Action.ATTACH_FILE: _p(*_EVERYONE, why="anyone who may see the case may attach a file"),
    Action.ADD_NOTE: _p(
        Role.CONSUMER,
        Role.AGENT,
        Role.OPERATIONS,
        why="notes come from the buyer, or a hotline agent for a caller",
    ),
    Action.SET_APPOINTMENT: _p(
        Role.PROVIDER,
        Role.MERCHANT,
        Role.BRAND,
        Role.OPERATIONS,
        why="the party handling the case books the visit with the buyer",
    ),
    Action.BOOK_SLOT: _p(
        Role.CONSUMER,
        Role.PROVIDER,
        Role.MERCHANT,
        Role.BRAND,
        Role.OPERATIONS,
        why="the buyer books a visit window, or the assigned party on the phone with them",
        programmes=frozenset({Programme.ONE_CLICK_HELP}),
    ),
    Action.DECLINE_CASE: _p(
        Role.PROVIDER,
        why="the provider a help request is dispatched to declines it",
        programmes=frozenset({Programme.ONE_CLICK_HELP}),
    ),
    Action.REASSIGN_CASE: _p(
        Role.OPERATIONS,
        why="operations reassign help requests",
        programmes=frozenset({Programme.ONE_CLICK_HELP}),
    ),
    Action.KEEP_SOLUTION_TEXTS: _p(
        Role.PROVIDER,
        Role.MERCHANT,
        Role.BRAND,
        why="providers, shops and brands keep their own solution texts",
    ),
    Action.SEE_COMPLIANCE: _p(
        Role.AGENT,
        Role.MERCHANT,
        Role.BRAND,
        Role.PROVIDER,
        Role.OPERATIONS,
        why="compliance figures are for the trade",
    ),
    Action.CREATE_SANDBOX: _p(Role.OPERATIONS, why="only operations create sandboxes"),
    Action.ADVANCE_SANDBOX: _p(Role.OPERATIONS, why="only operations move sandbox clocks"),
    Action.LOAD_MASTER_DATA: _p(
        Role.OPERATIONS,
        Role.INTEGRATION,
        why="master data is loaded by operations or an integration token",
    ),
    Action.READ_MASTER_DATA: _p(
        Role.OPERATIONS,
        Role.INTEGRATION,
        why="master data records are read by operations or an integration token",
    ),
    Action.SEND_EVENTS: _p(
        Role.OPERATIONS,
        Role.INTEGRATION,
        why="marketplace events come from operations or an integration token",
    ),
    Action.IMPORT_DATA: _p(
        Role.OPERATIONS,
        Role.INTEGRATION,
        why="master data is imported by operations or by an integration account",
    ),
    Action.MANAGE_OWN_TOKENS: _p(
        *_EVERYONE, Role.INTEGRATION, why="every account may list and revoke its own tokens"
    ),
    Action.MANAGE_ANY_TOKEN: _p(
        Role.OPERATIONS, why="only operations list and revoke other accounts' tokens"
    ),
}


def allowed(role: Role, action: Action | str, programme: Programme | None = None) -> bool:
    """May ``role`` take ``action`` at all (on a case of ``programme``, if given)?

    ``action`` is an :class:`Action` or a lifecycle step's name (``give_solution``).
    """
    if isinstance(action, Action) or action in Action.__members__.values():
        permission = ACCESS[Action(action)]
        if programme is not None and programme not in permission.programmes:
            return False
        return role in permission.roles
    programmes = [programme] if programme is not None else list(LIFECYCLES)
    for each in programmes:
        transition = LIFECYCLES[each].transition(action)
        if transition is not None and role in transition.roles:
            return True
    return False


def require(role: Role, action: Action | str, programme: Programme | None = None) -> None:
    """Raise :class:`Forbidden`, saying who may, unless ``role`` may take ``action``."""
    if allowed(role, action, programme):
        return
    if isinstance(action, Action) or action in Action.__members__.values():
        why = ACCESS[Action(action)].why
    else:
        roles = sorted(
            {
                r.value
                for lc in LIFECYCLES.values()
                if (t := lc.transition(action)) is not None
                for r in t.roles
                if r is not Role.SYSTEM
            }
        )
        why = f"'{action}' is done by: {', '.join(roles) or 'nobody'}"
    raise Forbidden(f"a {role.value} may not do this: {why}")


def may_see_contact(
    role: Role, party: str | None, *, assignee: str | None, buyer: str | None
) -> bool:
    """May a viewer see a case's customer contact (name, service address, phone) unmasked?

    The party the case is assigned to (the installer or repairer making the visit; the
    shop or brand when the case is theirs to handle) and operations do; the buyer sees
    their own. Every other party sees them masked (:mod:`aftersales.domain.contacts`).
    """
    if role in (Role.OPERATIONS, Role.SYSTEM):
        return True
    if not party:
        return False
    if role in (Role.PROVIDER, Role.MERCHANT, Role.BRAND):
        return party == assignee
    if role is Role.CONSUMER:
        return party == buyer
    return False


def may_see_dispatch_scores(role: Role) -> bool:
    """May a viewer read how OH-3 weighed the providers (scores, the runner-up, who was
    skipped and why)? Operations and the liable shop do; a buyer, a provider or a brand
    sees who has the request and every hand-over, not how other providers scored."""
    return role in (Role.OPERATIONS, Role.SYSTEM, Role.MERCHANT)


def may_take(role: Role, programme: Programme, state: str, step: str) -> bool:
    """May ``role`` take lifecycle ``step`` on a case of ``programme`` in ``state`` now?"""
    transition = LIFECYCLES[programme].transition(step)
    return transition is not None and state in transition.sources and role in transition.roles


def steps_for(role: Role, programme: Programme, state: str) -> list[str]:
    """The lifecycle steps ``role`` may take now, in the order the lifecycle lists them."""
    return [
        t.action
        for t in LIFECYCLES[programme].transitions.values()
        if state in t.sources and role in t.roles
    ]
