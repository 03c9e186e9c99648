"""The two case state machines, written down as data.

A case moves only along the transitions below; each transition is an *action*
(imperative: ``accept``) that emits an *event* (past tense: ``accepted``). SLA
clocks in policy documents name these events as their start, stop and pause
triggers, so the policy loader checks clock definitions against this table.

National warranty (NW-2, NW-4, NW-5)::

    reported ─accept──────────► accepted ─receive_item─► item_received ─give_feedback─► feedback_given
       │  ▲                        │                          │                           │
       │  └provide_info─ info_requested                       └──────mark_repaired────────┴─► repaired
       ├─request_info──────────────┘
       └─reject(reason)──► rejected               (close: from any open state to closed)

One-click help (OH-3, OH-4, OH-6, OH-9)::

    open ─dispatch─► dispatched ─respond─► responded ─give_solution─► solution_given ─resolve(note)─► resolved (完结)
                         └──────────give_solution──────────┘   └────────────resolve(note)──────────────┘
    (withdraw: the buyer withdraws an open request -> closed)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Programme(StrEnum):
    NATIONAL_WARRANTY = "national_warranty"
    ONE_CLICK_HELP = "one_click_help"


class Role(StrEnum):
    """Who acts (X-4: every change records who)."""

    CONSUMER = "consumer"
    AGENT = "agent"  # hotline agent filing on a caller's behalf (NW-2a)
    MERCHANT = "merchant"
    BRAND = "brand"
    PROVIDER = "provider"  # brand service centre, third-party repairer or installer
    OPERATIONS = "operations"
    SYSTEM = "system"
    # A system of the marketplace loading master data and events (by API token only);
    # its account's party, when set, is the one shop it may load for.
    INTEGRATION = "integration"


class Channel(StrEnum):
    """Through which channel a change came in (NW-2, X-4)."""

    HOTLINE = "hotline"
    SERVICE_FORM = "service_form"
    CHAT = "chat"
    HELP_BUTTON = "help_button"
    API = "api"
    WEB = "web"
    CLI = "cli"
    IMPORT = "import"
    SYSTEM = "system"


@dataclass(frozen=True)
class Transition:
    action: str
    event: str
    sources: frozenset[str]
    target: str
    roles: frozenset[Role]
    needs_note: bool = False  # a reason (reject) or a resolution note (OH-9) is required
    label_zh: str = ""
    label_en: str = ""


@dataclass(frozen=True)
class Lifecycle:
    programme: Programme
    initial_state: str
    initial_event: str
    states: Mapping[str, tuple[str, str]]  # state -> (zh, en)
    terminal: frozenset[str]
    transitions: Mapping[str, Transition]  # by action
    # Events that move no state but start or stop clocks: the goods signed for, a visit
    # day agreed with the buyer (SS-2).
    other_events: frozenset[str] = frozenset()

    @property
    def events(self) -> frozenset[str]:
        return frozenset(
            {self.initial_event} | {t.event for t in self.transitions.values()} | self.other_events
        )

    def transition(self, action: str) -> Transition | None:
        return self.transitions.get(action)


_PROVIDER_SIDE = frozenset({Role.BRAND, Role.PROVIDER, Role.MERCHANT})
_BUYER_SIDE = frozenset({Role.CONSUMER, Role.AGENT})
_OPS = frozenset({Role.OPERATIONS, Role.SYSTEM})


def _t(
    action: str,
    event: str,
    sources: set[str],
    target: str,
    roles: frozenset[Role],
    labels: tuple[str, str],
    *,
    needs_note: bool = False,
) -> tuple[str, Transition]:
    return action, Transition(
        action=action,
        event=event,
        sources=frozenset(sources),
        target=target,
        roles=roles | _OPS,
        needs_note=needs_note,
        label_zh=labels[0],
        label_en=labels[1],
    )


_NW_OPEN = {"reported", "info_requested", "accepted", "item_received", "feedback_given"}

NATIONAL_WARRANTY = Lifecycle(
    programme=Programme.NATIONAL_WARRANTY,
    initial_state="reported",
    initial_event="reported",
    states={
        "reported": ("已报修", "reported"),
        "info_requested": ("待补充信息", "information requested"),
        "accepted": ("已受理", "accepted"),
        "rejected": ("已拒绝", "rejected"),
        "item_received": ("已收到寄修商品", "item received"),
        "feedback_given": ("已反馈", "feedback given"),
        "repaired": ("已修复", "repaired"),
        "closed": ("已关闭", "closed"),
    },
    terminal=frozenset(
        {"closed", "rejected"}
    ),  # a rejected report ends it; the buyer may report again
    transitions=dict(
        [
            _t("accept", "accepted", {"reported"}, "accepted", _PROVIDER_SIDE, ("受理", "accept")),
            _t(
                "reject",
                "rejected",
                {"reported", "info_requested"},
                "rejected",
                _PROVIDER_SIDE,
                ("拒绝", "reject"),
                needs_note=True,
            ),
            _t(
                "request_info",
                "info_requested",
                {"reported"},
                "info_requested",
                _PROVIDER_SIDE,
                ("要求补充信息", "ask for information"),
                needs_note=True,
            ),
            _t(
                "provide_info",
                "info_provided",
                {"info_requested"},
                "reported",
                _BUYER_SIDE,
                ("补充信息", "provide information"),
                needs_note=True,
            ),
            _t(
                "receive_item",
                "item_received",
                {"accepted"},
                "item_received",
                _PROVIDER_SIDE,
                ("确认收到寄修商品", "mark the mailed item received"),
            ),
            _t(
                "give_feedback",
                "feedback_given",
                {"accepted", "item_received", "feedback_given"},
                "feedback_given",
                _PROVIDER_SIDE,
                ("反馈进度", "give feedback"),
                needs_note=True,
            ),
            _t(
                "mark_repaired",
                "repaired",
                {"accepted", "item_received", "feedback_given"},
                "repaired",
                _PROVIDER_SIDE,
                ("标记已修复", "mark repaired"),
                needs_note=True,
            ),
            _t(
                "close",
                "closed",
                _NW_OPEN | {"repaired"},
                "closed",
                _BUYER_SIDE,
                ("关闭", "close"),
            ),
        ]
    ),
)

_OH_ACTIVE = {"dispatched", "responded", "solution_given"}

ONE_CLICK_HELP = Lifecycle(
    programme=Programme.ONE_CLICK_HELP,
    initial_state="open",
    initial_event="initiated",
    states={
        "open": ("求助中", "open"),
        "dispatched": ("求助中（已指派）", "open (dispatched)"),
        "responded": ("求助中（已响应）", "open (responded)"),
        "solution_given": ("求助中（已给出方案）", "open (solution given)"),
        "resolved": ("完结", "resolved"),
        "closed": ("已撤销", "withdrawn"),
    },
    terminal=frozenset({"resolved", "closed"}),
    other_events=frozenset({"signed_for", "appointment_booked"}),
    transitions=dict(
        [
            # OH-3: the system dispatches at once on initiation; a hand-over (a decline, operations
            # reassigning, a missed plan) dispatches again before a solution is given.
            _t(
                "dispatch",
                "dispatched",
                {"open", "dispatched", "responded"},
                "dispatched",
                frozenset(),
                ("指派服务方", "dispatch"),
            ),
            _t(
                "respond",
                "responded",
                {"dispatched"},
                "responded",
                _PROVIDER_SIDE,
                ("响应", "respond"),
            ),
            _t(
                "give_solution",
                "solution_given",
                {"dispatched", "responded", "solution_given"},
                "solution_given",
                _PROVIDER_SIDE,
                ("给出解决方案", "give a solution"),
                needs_note=True,
            ),
            _t(
                "resolve",
                "resolved",
                _OH_ACTIVE,
                "resolved",
                _PROVIDER_SIDE,
                ("完结", "resolve"),
                needs_note=True,
            ),
            _t(
                "withdraw",
                "closed",
                {"open"} | _OH_ACTIVE,
                "closed",
                _BUYER_SIDE,
                ("撤销求助", "withdraw"),
            ),
        ]
    ),
)

LIFECYCLES: Mapping[Programme, Lifecycle] = {
    Programme.NATIONAL_WARRANTY: NATIONAL_WARRANTY,
    Programme.ONE_CLICK_HELP: ONE_CLICK_HELP,
}
