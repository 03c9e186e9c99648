"""The in-memory adapter answers as the SQL adapters do: one scenario, played on both.

The demo's data set is loaded live and into a sandbox ``play``; then help
requests are opened (one dispatched to a provider, one to the merchant, a
second click), a national-warranty report is filed, a solution is given in
time, a clock is paused, the sandbox is advanced past the hour, a live worker
claims and then a tick runs past it, a complaint is refused (OH-7) and an
idempotent request is replayed.
Everything the services can read afterwards — whole cases, payouts, balances,
the parties' case lines, queues, compliance by every grouping, deadlines,
reference data — must be equal on SQLite, on PostgreSQL and in memory. This is
what keeps the fake honest: a service test on it means what it would on a database.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from aftersales.adapters import memory
from aftersales.demo import dataset as demo
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.domain.policy import PolicyBook
from aftersales.services import cases as svc
from aftersales.services import notifications as notes
from aftersales.services import solutions, views
from aftersales.services.accounts import ensure_account
from aftersales.services.base import Services
from aftersales.services.deadlines import claim_due, clocks_with_due, due_count, next_due, tick
from aftersales.services.idempotency import Answer, once, request_digest
from aftersales.services.master_data import World
from aftersales.services.records import GROUPINGS, LIVE, CaseFilter, Scope
from aftersales.services.reports import case_report
from aftersales.services.sandboxes import advance_sandbox, create_sandbox, list_sandboxes
from aftersales.services.time import FixedClock
from aftersales.testing import services_on, shipped_policies

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 24, 10, 0, tzinfo=SH)
WINDOW = (START - timedelta(days=1), START + timedelta(days=3))
SANDBOX = "play"


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return shipped_policies()


# Accounts that are told things: (username = party, role); operations have no party.
ACCOUNTS = (
    (demo.PROVIDER_HANGZHOU_LIGHTING, Role.PROVIDER),
    (demo.DEMO_BUYER, Role.CONSUMER),
    (demo.MERCHANT_SHIJI, Role.MERCHANT),
    ("ops", Role.OPERATIONS),
)


def _load(services: Services) -> None:
    """The demo's catalogue and orders in live data, its orders again in the sandbox."""
    create_sandbox(services, sandbox_id=SANDBOX, name="合同 / contract", start=START)
    demo.load_demo(services, orders_into=World.of(LIVE))
    demo.load_demo(services, orders_into=World.of(SANDBOX), catalogue=False)
    for username, role in ACCOUNTS:
        ensure_account(
            services,
            username=username,
            password="a long enough password",
            role=role,
            party=None if role is Role.OPERATIONS else username,
        )


def _consumer(buyer: str) -> Actor:
    return Actor(Role.CONSUMER, buyer, Channel.HELP_BUTTON)


def _play(services: Services, book: PolicyBook) -> dict[str, Any]:
    """Run the scenario on ``services``; everything read back, by name."""
    clock = services.clock
    assert isinstance(clock, FixedClock)
    answers: dict[str, Any] = {}
    lamp = svc.request_help(
        services,
        order_item_id=demo.ITEM_LAMP_HANGZHOU,
        actor=_consumer(demo.DEMO_BUYER),
        failure="installation_late",
        case_id="OH-lamp",
    )
    lhasa = svc.request_help(
        services,
        order_item_id=demo.ITEM_TILES_LHASA,
        actor=_consumer("buyer-011"),
        failure="not_delivered_into_home",
        case_id="OH-lhasa",
    )
    again = svc.request_help(
        services,
        order_item_id=demo.ITEM_LAMP_HANGZHOU,
        actor=_consumer(demo.DEMO_BUYER),
        failure="installation_late",
    )
    answers["opened"] = [(o.case.id, o.created, o.case.assignee) for o in (lamp, lhasa, again)]
    svc.report_repair(
        services,
        order_item_id=demo.ITEM_KETTLE_SHANGHAI,
        actor=Actor(Role.CONSUMER, "buyer-006", Channel.SERVICE_FORM),
        description="水壶不加热",
        case_id="NW-kettle",
    )
    svc.request_help(
        services,
        order_item_id=f"{SANDBOX}.{demo.ITEM_LAMP_HANGZHOU}",
        actor=_consumer(demo.DEMO_BUYER),
        failure="installation_late",
        case_id="OH-play-lamp",
    )
    tiles = svc.request_help(
        services,
        order_item_id=f"{SANDBOX}.{demo.ITEM_TILES_GUANGZHOU}",
        actor=_consumer("buyer-002"),
        failure="not_delivered_into_home",
        case_id="OH-play-tiles",
    )
    assert tiles.case.assignee is not None
    provider = Actor(Role.PROVIDER, tiles.case.assignee, Channel.WEB)
    svc.act(services, "OH-play-tiles", "give_solution", provider, "明天送货上门")
    # Field work: the installer books the visit; a hotline caller's words join the open report.
    installer = Actor(Role.PROVIDER, demo.PROVIDER_HANGZHOU_LIGHTING, Channel.WEB)
    svc.set_appointment(services, "OH-lamp", START + timedelta(hours=5), installer)
    answers["noted"] = svc.report_repair(
        services,
        order_item_id=demo.ITEM_KETTLE_SHANGHAI,
        actor=Actor(Role.AGENT, "acc-agent", Channel.HOTLINE),
        description="买家来电：还是不加热",
        caller_name="王先生",
        callback_phone="021-6888 1234",
    ).noted
    solutions.save_text(
        services, role=Role.PROVIDER, owner=installer.id, title="当天上门", body="今天下午上门"
    )
    answers["queue"] = views.provider_queue(
        services, Scope(Role.PROVIDER, demo.PROVIDER_HANGZHOU_LIGHTING), live_now=START
    )
    _, advanced = advance_sandbox(services, SANDBOX, by=timedelta(minutes=61))
    answers["advance"] = advanced
    answers["claimed"] = sorted(
        claim_due(
            services,
            sandbox="live",
            now=START + timedelta(minutes=61),
            worker_id="w1",
            limit=10,
            lease=timedelta(seconds=30),
        )
    )
    # A save that leaves a running clock's due instant alone leaves its claim alone too.
    merchant = Actor(Role.MERCHANT, demo.MERCHANT_SHIJI, Channel.WEB)
    svc.pause_clock(services, "OH-lhasa", "resolution", "buyer_rescheduled", merchant)
    answers["claimed meanwhile"] = claim_due(
        services,
        sandbox="live",
        now=START + timedelta(minutes=61),
        worker_id="w3",
        limit=10,
        lease=timedelta(seconds=30),
        real_now=START + timedelta(minutes=61, seconds=10),
    )
    answers["tick"] = tick(
        services,
        sandbox="live",
        now=START + timedelta(minutes=61),
        worker_id="w2",
        real_now=START + timedelta(minutes=62),
    )
    clock.advance(hours=2)
    answers["complaint"] = svc.file_complaint(
        services, "OH-lamp", "solution", _consumer(demo.DEMO_BUYER), "没人联系"
    )
    digest = request_digest("POST", "/x", {"n": 1})
    answers["once"] = [
        once(
            services,
            account_id="acc",
            key="k",
            digest=digest,
            produce=lambda: Answer(201, {"at": clock.now().isoformat()}),
        )
        for _ in range(2)
    ]
    _read(services, book, answers)
    return answers


def _read(services: Services, book: PolicyBook, answers: dict[str, Any]) -> None:
    ids = ["OH-lamp", "OH-lhasa", "NW-kettle", "OH-play-lamp", "OH-play-tiles"]
    answers["cases"] = {i: case_report(svc.get_case(services, i), book) for i in ids}
    answers["sandbox of"] = [svc.case_sandbox(services, i) for i in ids]
    # Issue 15: each clock's holding periods and each case's providers' shares, as stored.
    loaded = {i: svc.get_case(services, i) for i in ids}
    answers["holders"] = {
        i: {cid: c.holders for cid, c in sorted(case.clocks.items())} for i, case in loaded.items()
    }
    answers["shares"] = {i: case.shares for i, case in loaded.items()}
    for sandbox in ("live", SANDBOX):
        answers[f"payouts {sandbox}"] = svc.payouts_of(services, sandbox=sandbox)
        answers[f"balances {sandbox}"] = svc.balances_of(services, sandbox=sandbox)
        answers[f"next due {sandbox}"] = next_due(services, sandbox=sandbox)
        answers[f"due {sandbox}"] = due_count(
            services, sandbox=sandbox, now=START + timedelta(days=3)
        )
    answers["buyer's payouts"] = svc.payouts_of(services, account=demo.DEMO_BUYER)
    answers["clocks with due"] = clocks_with_due(services, real_now=START)
    scopes = [
        Scope(Role.OPERATIONS),
        Scope(Role.CONSUMER, demo.DEMO_BUYER),
        Scope(Role.PROVIDER, demo.PROVIDER_HANGZHOU_LIGHTING),
        Scope(Role.MERCHANT, demo.MERCHANT_SHIJI),
        Scope(Role.BRAND, demo.BRAND_XINGHE),
        Scope(Role.AGENT, demo.BRAND_GUANGMING),
        Scope(Role.SYSTEM),
    ]
    for scope in scopes:
        name = f"{scope.role.value} {scope.party}"
        answers[f"case lines {name}"] = views.case_lines(services, scope)
        answers[f"open lines {name} in {SANDBOX}"] = views.case_lines(
            services, scope, sandbox=SANDBOX, open_only=True
        )
        answers[f"payout lines {name}"] = views.payout_lines(services, scope)
        answers[f"share lines {name}"] = views.share_lines(services, scope)
        answers[f"balances {name}"] = views.balances(services, scope)
        answers[f"sees OH-lamp {name}"] = views.may_see_case(services, scope, "OH-lamp")
        answers[f"payout total {name}"] = views.payout_total(services, scope)
        for sandbox in ("live", SANDBOX):
            answers[f"found {name} in {sandbox}"] = views.case_search(
                services, scope, CaseFilter(sandbox=sandbox)
            )
            answers[f"breach board {name} in {sandbox}"] = views.breach_board(
                services, scope, sandbox=sandbox
            )
    searches = {
        "by buyer name": CaseFilter(text="买家 00"),
        "by phone": CaseFilter(text="13853631572"),
        "by item": CaseFilter(sandbox=SANDBOX, text=demo.ITEM_LAMP_HANGZHOU),
        "by order": CaseFilter(text="order-lamp-hangzhou"),
        "breached": CaseFilter(clock_state="breached"),
        "met": CaseFilter(clock_state="met"),
        "programme": CaseFilter(programme="national_warranty"),
        "open": CaseFilter(open_only=True, merchant=demo.MERCHANT_GUANGMING),
        "city": CaseFilter(city="拉萨市"),
        "due soon": CaseFilter(sandbox=SANDBOX, due_within=timedelta(hours=50)),
        "provider": CaseFilter(provider=demo.PROVIDER_HANGZHOU_LIGHTING),
        "brand": CaseFilter(brand=demo.BRAND_XINGHE, state="accepted"),
    }
    for label, search in searches.items():
        answers[f"search {label}"] = views.case_search(
            services, Scope(Role.OPERATIONS), search, limit=1
        )
    answers["names"] = views.names(
        services, [demo.MERCHANT_SHIJI, demo.PROVIDER_HANGZHOU_LIGHTING, demo.DEMO_BUYER, "x"]
    )
    ops = Scope(Role.OPERATIONS)
    first_page = views.case_lines(services, ops, limit=2)
    answers["second page"] = views.case_lines(
        services, ops, after=(first_page[-1].opened_at, first_page[-1].id)
    )
    for by in GROUPINGS:
        answers[f"compliance by {by}"] = views.compliance(
            services, ops, by=by, start=WINDOW[0], end=WINDOW[1]
        )
    answers[f"compliance in {SANDBOX}"] = views.compliance(
        services, ops, by="provider", start=WINDOW[0], end=WINDOW[1], sandbox=SANDBOX
    )
    answers["queue after"] = views.provider_queue(
        services, Scope(Role.OPERATIONS), live_now=START + timedelta(hours=3)
    )
    answers["open cases"] = sorted(
        views.open_cases_of_items(
            services, [demo.ITEM_LAMP_HANGZHOU, demo.ITEM_TILES_LHASA, demo.ITEM_KETTLE_SHANGHAI]
        ),
        key=lambda line: line.id,
    )
    answers["pending complaints"] = views.pending_complaints(services)
    answers["live figures"] = views.live_figures(services)
    answers["sandboxes"] = list_sandboxes(services)
    answers["orders of the demo buyer"] = views.find_orders_for_caller(services, demo.DEMO_BUYER)
    answers["items of the demo buyer"] = views.items_of_buyer(services, demo.DEMO_BUYER)
    answers["brands"] = views.brands(services)
    for username, _ in ACCOUNTS:
        with services.uow() as uow:
            found = uow.accounts.by_username(username)
        assert found is not None
        listed = notes.page_of(services, found.account.id, limit=100)
        # Ids aside (accounts get random ones): what each account was told, and when.
        answers[f"notifications {username}"] = (
            [
                (n.kind, n.case_id, n.sandbox, n.clock_id, n.mark, n.level, n.at, n.reason)
                for n in listed.items
            ],
            listed.total,
            listed.unread,
        )
    answers["a brand"] = views.brand_after_sales(services, demo.BRAND_GUANGMING)
    field_cases = ["OH-lamp", "NW-kettle", "OH-play-tiles"]
    for scope in [*scopes, Scope(Role.AGENT, None, "acc-agent")]:
        name = f"{scope.role.value} {scope.party}"
        answers[f"contacts {name}"] = views.case_contacts(services, scope, field_cases)
        answers[f"agent lines {name}"] = views.cases_of_callers(
            services, scope, [demo.DEMO_BUYER, "buyer-006"]
        )
    answers["noted lines"] = views.case_lines(services, Scope(Role.AGENT, None, "acc-agent"))
    for text in ("138 5363 1572", "买家 006", "02168881234", "order-kettle-shanghai"):
        answers[f"callers {text}"] = sorted(
            views.find_orders_for_caller(services, text), key=lambda row: row["id"]
        )
    answers["names"] = views.names(
        services, [demo.DEMO_BUYER, demo.MERCHANT_SHIJI, demo.BRAND_XINGHE, "hz-install-01"]
    )
    # A case's page reads its contact and the names it shows in one go (one statement on
    # PostgreSQL): what the memory adapter's two reads give, for usernames, unknown ids
    # and cases too.
    shown = [demo.DEMO_BUYER, demo.MERCHANT_SHIJI, demo.BRAND_XINGHE, "hz-install-01", "x"]
    with services.uow() as uow:
        for case_id in [*field_cases, "no-such-case"]:
            answers[f"contact and names {case_id}"] = uow.views.case_contact_and_names(
                case_id, [*shown, *(username for username, _ in ACCOUNTS)]
            )
    answers["solutions"] = [
        (t.owner, t.title, t.body) for t in solutions.texts_of(services, "hz-install-01")
    ]


def _memory_answers(book: PolicyBook) -> dict[str, Any]:
    services = memory.memory_services(book, FixedClock(START))
    _load(services)
    return _play(services, book)


def _sql_answers(engine: Engine, book: PolicyBook) -> dict[str, Any]:
    services = services_on(engine, FixedClock(START), book)
    _load(services)
    return _play(services, book)


def _differences(expected: dict[str, Any], got: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {"sql": expected.get(name), "memory": got.get(name)}
        for name in sorted(set(expected) | set(got))
        if expected.get(name) != got.get(name)
    }


def test_the_scenario_does_what_it_says(book: PolicyBook) -> None:
    """The scenario is worth comparing: payouts made, a claim held, a complaint refused."""
    answers = _memory_answers(book)
    assert answers["opened"] == [
        ("OH-lamp", True, demo.PROVIDER_HANGZHOU_LIGHTING),
        ("OH-lhasa", True, demo.MERCHANT_SHIJI),
        ("OH-lamp", False, demo.PROVIDER_HANGZHOU_LIGHTING),
    ]
    assert answers["advance"].payouts == 1
    assert answers["tick"].payouts == 2  # w1 claimed both, but its lease had lapsed
    assert answers["claimed"] == ["OH-lamp", "OH-lhasa"] and answers["claimed meanwhile"] == []
    assert answers["complaint"].status == "refused"
    assert answers["once"][1].replayed and answers["once"][0].body == answers["once"][1].body
    # The installer held the breached OH-4 clock: the merchant pays the buyer and the
    # installer owes the merchant its share (100 %), so the shop comes out even.
    assert answers["balances play"] == {
        ("buyer-001", "points"): 5000,
        ("shop-guangming", "points"): 0,
        (demo.PROVIDER_HANGZHOU_LIGHTING, "points"): -5000,
    }
    assert [s.payer for s in answers["shares"]["OH-play-lamp"]] == [demo.PROVIDER_HANGZHOU_LIGHTING]
    assert len(answers["case lines operations None"]) == 5
    total = answers["compliance by provider"].total
    # met: OH-4's solution in time, and with it SS-2's contact within 24 h of signing for
    assert (total.met, total.breached, total.points_paid) == (2, 3, 15_000)
    # the paused resolution clock of OH-lhasa counts as running; two SS-2 contact clocks run
    assert total.running == 7
    installer, _, _ = answers[f"notifications {demo.PROVIDER_HANGZHOU_LIGHTING}"]
    assert [(kind, case, mark) for kind, case, _, _, mark, _, _, _ in reversed(installer)] == [
        ("case_assigned", "OH-lamp", demo.PROVIDER_HANGZHOU_LIGHTING),
        ("case_assigned", "OH-play-lamp", demo.PROVIDER_HANGZHOU_LIGHTING),
        ("due_soon", "OH-play-lamp", "30m"),
        ("due_soon", "OH-play-lamp", "10m"),
        ("breached", "OH-play-lamp", ""),
        ("breached", "OH-lamp", ""),
    ]


def test_the_in_memory_adapter_answers_as_the_database_does(
    engine: Engine, book: PolicyBook
) -> None:
    sql = _sql_answers(engine, book)
    mem = _memory_answers(book)
    assert len(sql) > 50
    assert _differences(sql, mem) == {}
