"""Field work on SQLite and PostgreSQL: contacts masked by the access rule, the agreed visit
stored, saved solutions, the hotline search by phone and the agent's notes (NW-2a, OH-4)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from aftersales.bootstrap import Container, bootstrap
from aftersales.demo import dataset as data
from aftersales.demo.setup import create_demo_sandbox
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.services import cases as svc
from aftersales.services import solutions, views
from aftersales.services.records import Scope
from aftersales.services.time import FixedClock
from aftersales.settings import Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
TEN_AM = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
LAMP = f"f.{data.ITEM_LAMP_HANGZHOU}"
KETTLE = f"f.{data.ITEM_KETTLE_SHANGHAI}"
BUYER_001_PHONE = "13853631572"  # the demo's buyer-001
AGENT = Actor(Role.AGENT, "acc-agent-1", Channel.HOTLINE)


@pytest.fixture
def container(engine: Engine, database_url: str, tmp_path: Path) -> Container:
    built = bootstrap(
        Settings(data_dir=tmp_path, database_url=database_url), clock=FixedClock(TEN_AM)
    )
    create_demo_sandbox(built, "f", start=TEN_AM)
    return built


def _help(container: Container) -> str:
    return svc.request_help(
        container.services,
        order_item_id=LAMP,
        actor=Actor(Role.CONSUMER, data.DEMO_BUYER, Channel.HELP_BUTTON),
        failure="installation_late",
    ).case.id


def test_only_the_assigned_installer_and_operations_read_the_contact_unmasked(
    container: Container,
) -> None:
    case_id = _help(container)
    services = container.services

    def contact(role: Role, party: str | None) -> tuple[str, str, str]:
        c = views.case_contacts(services, Scope(role, party), [case_id])[case_id].contact
        return c.name, c.phone, c.address

    whole = contact(Role.PROVIDER, "hz-install-01")
    assert whole == ("买家 001", BUYER_001_PHONE, "浙江省杭州市西湖区文三路 90 号")
    assert contact(Role.OPERATIONS, None) == whole
    masked = ("买***", "138****1572", "浙江省杭州市西湖区")
    assert contact(Role.PROVIDER, "dlv-south") == masked
    assert contact(Role.MERCHANT, data.MERCHANT_GUANGMING) == masked
    assert contact(Role.BRAND, data.BRAND_GUANGMING) == masked
    view = views.case_view(
        services, Scope(Role.MERCHANT, data.MERCHANT_GUANGMING), svc.get_case(services, case_id)
    )
    assert BUYER_001_PHONE not in str(view.as_json())


def test_the_agreed_visit_is_stored_and_shown_in_the_history(container: Container) -> None:
    case_id = _help(container)
    services = container.services
    installer = Actor(Role.PROVIDER, "hz-install-01", Channel.WEB)
    visit = datetime(2026, 11, 24, 15, 0, tzinfo=SHANGHAI)
    svc.set_appointment(services, case_id, visit, installer)
    case = svc.get_case(services, case_id)
    assert case.appointment_at == visit
    booked = views.case_contacts(services, Scope(Role.CONSUMER, data.DEMO_BUYER), [case_id])
    assert booked[case_id].appointment_at == visit
    history = views.case_view(services, Scope(Role.CONSUMER, data.DEMO_BUYER), case).history
    assert history[-1]["zh"] == "服务方 杭州安装服务站 与买家约定上门时间：2026-11-24 15:00"


def test_saved_solutions_are_kept_per_provider(container: Container) -> None:
    services = container.services
    kept = solutions.save_text(
        services,
        role=Role.PROVIDER,
        owner="hz-install-01",
        title="今天上门",
        body="今天下午三点上门",
    )
    solutions.save_text(
        services, role=Role.PROVIDER, owner="dlv-south", title="明天送达", body="明天上午送货入户"
    )
    solutions.save_text(
        services,
        role=Role.PROVIDER,
        owner="hz-install-01",
        title="今天上门",
        body="今天下午四点上门",
        text_id=kept.id,
    )
    assert [(t.title, t.body) for t in solutions.texts_of(services, "hz-install-01")] == [
        ("今天上门", "今天下午四点上门")
    ]
    solutions.delete_text(services, role=Role.PROVIDER, owner="hz-install-01", text_id=kept.id)
    assert solutions.texts_of(services, "hz-install-01") == []
    assert [t.title for t in solutions.texts_of(services, "dlv-south")] == ["明天送达"]


def test_the_hotline_finds_a_caller_by_phone_and_adds_to_their_open_report(
    container: Container,
) -> None:
    services = container.services
    found = views.find_orders_for_caller(services, "138-5363-1572")
    assert LAMP in {r["id"] for r in found}
    assert {r["buyer_account"] for r in found} == {data.DEMO_BUYER}
    kettle_callers = views.find_orders_for_caller(services, "买家 006")
    assert KETTLE in {r["id"] for r in kettle_callers}
    first = svc.report_repair(
        services,
        order_item_id=KETTLE,
        actor=Actor(Role.CONSUMER, "buyer-006", Channel.SERVICE_FORM),
        description="加热后自动断电",
    )
    scope = Scope(Role.AGENT, None, AGENT.id)
    assert not views.may_see_case(services, scope, first.case.id)
    again = svc.report_repair(
        services,
        order_item_id=KETTLE,
        actor=AGENT,
        description="买家来电：指示灯一直闪",
        caller_name="王先生",
        callback_phone="021-6888 1234",
    )
    assert again.noted and again.case.id == first.case.id
    assert views.may_see_case(services, scope, first.case.id)
    assert [line.id for line in views.case_lines(services, scope)] == [first.case.id]
    by_callback = views.find_orders_for_caller(services, "02168881234")
    assert [r["id"] for r in by_callback] == [KETTLE]
    case = svc.get_case(services, first.case.id)
    assert (case.caller_name, case.callback_phone) == ("王先生", "021-68881234")
    assert case.audit[-1].note == "买家来电：指示灯一直闪"
    callers = views.cases_of_callers(services, scope, ["buyer-006"])
    assert [line.id for line in callers] == [first.case.id]
