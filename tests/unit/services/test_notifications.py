"""Notifications on the in-memory adapter: who is told what, when, and exactly once.

The same scenarios run on SQLite and PostgreSQL, with workers racing, in
``tests/integration/test_notifications.py``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from aftersales.adapters.memory import MemoryStore, memory_services, upsert_providers
from aftersales.domain.lifecycle import Role
from aftersales.domain.policy import PolicyBook
from aftersales.errors import NotFound
from aftersales.services import cases as svc
from aftersales.services import notifications as notes
from aftersales.services.accounts import create_account
from aftersales.services.base import Services
from aftersales.services.deadlines import tick
from aftersales.services.sandboxes import advance_sandbox, create_sandbox
from aftersales.services.time import FixedClock
from tests.unit.services.world import BUYER, INSTALLER, OPS, START, seed

PASSWORD = "a long enough password"


def _accounts(services: Services) -> dict[str, str]:
    made = {
        "installer": create_account(
            services,
            username="installer",
            password=PASSWORD,
            role=Role.PROVIDER,
            party="installer-hz",
        ),
        "shop": create_account(
            services, username="shop", password=PASSWORD, role=Role.MERCHANT, party="shop-1"
        ),
        "ops": create_account(services, username="ops", password=PASSWORD, role=Role.OPERATIONS),
        "buyer": create_account(
            services, username="buyer", password=PASSWORD, role=Role.CONSUMER, party="buyer-1"
        ),
    }
    return {name: account.id for name, account in made.items()}


def _installer_covers_hangzhou(store: MemoryStore) -> None:
    upsert_providers(
        store,
        [{"id": "installer-hz", "name": "杭州安装", "kind": "installer", "brand_id": None}],
        [
            {
                "provider_id": "installer-hz",
                "city": "杭州",
                "category_id": "lighting",
                "service_tag": "scheduled_installation",
            }
        ],
    )


def _help(services: Services) -> str:
    return svc.request_help(
        services, order_item_id="oi-lamp", actor=BUYER, failure="installation_late"
    ).case.id


def _told(services: Services, account_id: str) -> list[tuple[str, str, str, object]]:
    page = notes.page_of(services, account_id, limit=100)
    return [(n.kind, n.clock_id, n.mark, n.at) for n in reversed(page.items)]


@pytest.fixture
def live(store: MemoryStore, services: Services) -> dict[str, str]:
    _installer_covers_hangzhou(store)
    return _accounts(services)


def test_oh_4_the_installer_is_told_of_the_case_then_warned_at_10_30_and_10_50_then_the_breach(
    services: Services, live: dict[str, str]
) -> None:
    case_id = _help(services)
    for minute in range(0, 62):
        tick(
            services,
            sandbox="live",
            now=START + timedelta(minutes=minute, seconds=1),
            worker_id="w",
        )
    assert _told(services, live["installer"]) == [
        ("case_assigned", "", "installer-hz", START),
        ("due_soon", "solution", "30m", START + timedelta(minutes=30)),
        ("due_soon", "solution", "10m", START + timedelta(minutes=50)),
        ("breached", "solution", "", START + timedelta(hours=1)),
    ]
    latest = notes.page_of(services, live["installer"]).items
    assert "请尽快处理" in latest[2].reason.zh and "OH-4" in latest[2].reason.zh
    assert case_id in latest[0].reason.en and "breached" in latest[0].reason.en


def test_oh_5_the_buyer_is_told_of_the_payout_with_its_reason(
    services: Services, live: dict[str, str]
) -> None:
    _help(services)
    tick(services, sandbox="live", now=START + timedelta(minutes=61), worker_id="w")
    (payout,) = notes.page_of(services, live["buyer"]).items
    assert payout.kind == "payout" and payout.reason.rule == "OH-5"
    assert "5,000" in payout.reason.zh


def test_an_unacknowledged_warning_goes_to_the_shop_then_to_operations_once_each(
    services: Services, live: dict[str, str]
) -> None:
    _help(services)
    for minute in (31, 41, 51, 51, 55):
        tick(services, sandbox="live", now=START + timedelta(minutes=minute), worker_id="w")
    shop = [(n.kind, n.mark, n.level) for n in notes.page_of(services, live["shop"]).items]
    ops = [(n.kind, n.mark, n.level) for n in notes.page_of(services, live["ops"]).items]
    assert shop == [("due_soon", "30m>1", 1)]
    assert ops == [("due_soon", "30m>2", 2)]
    assert "第 1 级" in notes.page_of(services, live["shop"]).items[0].reason.zh


def test_an_acknowledged_warning_is_not_passed_on(services: Services, live: dict[str, str]) -> None:
    _help(services)
    tick(services, sandbox="live", now=START + timedelta(minutes=31), worker_id="w")
    (warning,) = [
        n for n in notes.page_of(services, live["installer"]).items if n.kind == "due_soon"
    ]
    acked = notes.acknowledge(services, live["installer"], warning.id)
    assert acked.acked_at is not None and acked.read_at is not None
    tick(services, sandbox="live", now=START + timedelta(minutes=45), worker_id="w")
    assert notes.page_of(services, live["shop"]).items == []


def test_a_solution_in_time_disarms_the_remaining_warnings(
    services: Services, live: dict[str, str], clock: FixedClock, store: MemoryStore
) -> None:
    case_id = _help(services)
    clock.advance(minutes=20)
    svc.act(services, case_id, "give_solution", INSTALLER, "明天上午 9 点上门")
    assert not [key for key in store.tables.deadlines if key[1].startswith("solution")]
    tick(services, sandbox="live", now=START + timedelta(hours=1, minutes=5), worker_id="w")
    assert [n.kind for n in notes.page_of(services, live["installer"]).items] == ["case_assigned"]


def test_a_paused_clock_warns_on_its_own_remaining_time_after_resuming(
    services: Services, live: dict[str, str], clock: FixedClock, store: MemoryStore
) -> None:
    case_id = _help(services)
    clock.advance(hours=2)
    svc.pause_clock(services, case_id, "resolution", "buyer_rescheduled", INSTALLER)
    assert (case_id, "resolution@6h") not in store.tables.deadlines
    clock.advance(hours=10)
    svc.resume_clock(services, case_id, "resolution", INSTALLER)
    # 46 hours were left at the pause; the 6-hour mark falls 40 hours after resuming.
    warn_at = START + timedelta(hours=12 + 40)
    assert store.tables.deadlines[(case_id, "resolution@6h")].due_at == warn_at


def test_a_warning_mark_in_a_sandbox_fires_on_the_sandbox_clock(book: PolicyBook) -> None:
    store = MemoryStore()
    seed(store, sandbox="play")
    _installer_covers_hangzhou(store)
    services = memory_services(book, FixedClock(START), store=store)
    accounts = _accounts(services)
    create_sandbox(services, sandbox_id="play", start=START)
    _help(services)
    advance_sandbox(services, "play", by=timedelta(minutes=61))
    told = _told(services, accounts["installer"])
    assert [(kind, mark) for kind, _, mark, _ in told][1:] == [
        ("due_soon", "30m"),
        ("due_soon", "10m"),
        ("breached", ""),
    ]
    assert {n.sandbox for n in notes.page_of(services, accounts["installer"]).items} == {"play"}


def test_a_decided_complaint_is_told_to_who_filed_it_and_to_the_shop(
    services: Services, live: dict[str, str], clock: FixedClock
) -> None:
    case_id = _help(services)
    clock.advance(hours=1)
    complaint = svc.file_complaint(services, case_id, None, BUYER, "师傅态度不好")
    svc.decide_complaint(services, case_id, complaint.id, False, OPS, "录音显示沟通正常")
    for who in ("buyer", "shop"):
        (told,) = [
            n for n in notes.page_of(services, live[who]).items if n.kind == "complaint_decided"
        ]
        assert "录音显示沟通正常" in told.reason.zh and told.mark == complaint.id


def test_paging_is_newest_first_and_read_marks_count_down(
    services: Services, live: dict[str, str]
) -> None:
    _help(services)
    for minute in (31, 51, 61):
        tick(services, sandbox="live", now=START + timedelta(minutes=minute), worker_id="w")
    first = notes.page_of(services, live["installer"], limit=2)
    assert (first.total, first.unread, len(first.items)) == (4, 4, 2)
    assert first.items[0].id > first.items[1].id and first.next_before == first.items[1].id
    rest = notes.page_of(services, live["installer"], before=first.next_before, limit=2)
    assert rest.next_before is None and len(rest.items) == 2
    assert notes.mark_read(services, live["installer"], [first.items[0].id]) == 1
    assert notes.counts(services, live["installer"])[1] == 3
    assert notes.mark_read(services, live["installer"]) == 3


def test_a_worker_that_comes_back_after_the_deadline_sends_the_breach_not_stale_warnings(
    services: Services, live: dict[str, str]
) -> None:
    _help(services)
    tick(services, sandbox="live", now=START + timedelta(minutes=61), worker_id="w")
    assert [n.kind for n in notes.page_of(services, live["installer"]).items] == [
        "breached",
        "case_assigned",
    ]


def test_someone_elses_notification_cannot_be_acknowledged(
    services: Services, live: dict[str, str]
) -> None:
    _help(services)
    mine = notes.page_of(services, live["installer"]).items[0]
    with pytest.raises(NotFound):
        notes.acknowledge(services, live["shop"], mine.id)


def test_channel_preferences_are_checked_field_by_field_and_kept_whole_or_not_at_all(
    services: Services, live: dict[str, str]
) -> None:
    with pytest.raises(notes.PreferencesRefused) as refused:
        notes.set_preferences(
            services, live["shop"], email="not-an-address", sms_on=True, chat_on=False
        )
    assert set(refused.value.problems) == {"email", "phone"}
    assert notes.preferences_of(services, live["shop"]).email is None
    kept = notes.set_preferences(
        services,
        live["shop"],
        email="shop@example.com",
        email_on=True,
        phone="138 0013 8000",
        sms_on=True,
        language="en",
    )
    assert (kept.phone, kept.language) == ("13800138000", "en")
    assert notes.preferences_of(services, live["shop"]) == kept
