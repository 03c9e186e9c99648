"""Play a business day of after-sales cases on a sandbox clock, narrating what happens.

The demo loads the demo data set into a fresh sandbox whose clock starts at 08:00
on the demo day, then walks the clock forward scene by scene. Featured cases
print every decision as it is taken, with its rule ID; a crowd of background
requests (seeded, so every run is the same) fills the day. Deadlines fall due
while the clock moves (:func:`advance_sandbox`), so breaches and payouts happen
at the instant they would in real life — and each is paid exactly once.

The module is long (~570 lines) because it is a script: :func:`play_demo` reads
as the day, scene after scene, a few lines each, and cutting it into modules
would scatter the story. Setting up sandboxes and accounts is in ``setup.py``.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from aftersales.adapters.db import schema as s
from aftersales.bootstrap import Container
from aftersales.demo import dataset as data
from aftersales.demo.setup import DEMO_PREFIX, demo_world, ensure_demo_accounts
from aftersales.domain.cases import Actor
from aftersales.domain.explain import Language, local_time
from aftersales.domain.lifecycle import Channel, Programme, Role
from aftersales.errors import AftersalesError
from aftersales.services import cases as svc
from aftersales.services.sandboxes import (
    advance_sandbox,
    create_sandbox,
    list_sandboxes,
    reset_sandbox,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BACKGROUND_SEED = 20_261_124  # the same background day every time
BACKGROUND_REQUESTS = 36
OPS = Actor(Role.OPERATIONS, "ops-demo", Channel.WEB, "平台运营")


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


@dataclass
class DemoResult:
    sandbox: str
    featured: dict[str, str] = field(default_factory=dict)  # label -> case id
    payouts: int = 0
    points: int = 0
    refused: list[str] = field(default_factory=list)


class _Narrator:
    def __init__(
        self, container: Container, console: Console, languages: Sequence[Language]
    ) -> None:
        self.container = container
        self.console = console
        self.languages = languages
        self.shown: dict[str, int] = {}
        self.labels: dict[str, str] = {}

    def follow(self, label: str, case_id: str) -> None:
        self.labels[case_id] = label
        self.shown.setdefault(case_id, 0)

    def say(self, at: datetime, text: str) -> None:
        if self.languages:
            self.console.print(f"\n[bold]{local_time(at, 'Asia/Shanghai')}[/bold] {text}")

    def flush(self) -> None:
        if not self.languages:
            return
        for case_id, seen in self.shown.items():
            case = svc.get_case(self.container.services, case_id)
            for decision in case.decisions[seen:]:
                when = local_time(decision.at, "Asia/Shanghai")
                for language in self.languages:
                    self.console.print(
                        f"  [dim]{when}[/dim] [magenta]{self.labels[case_id]}[/magenta] "
                        f"[cyan]{decision.reason.rule}[/cyan] {decision.reason.render(language)}"
                    )
            self.shown[case_id] = len(case.decisions)


def play_demo(container: Container, console: Console, languages: Sequence[Language]) -> DemoResult:
    engine = container.engine
    sandbox = DEMO_PREFIX
    day = data.DEMO_TODAY
    world = demo_world(sandbox)
    prefix = world.prefix
    # Played again, the day starts over in the same sandbox: its cases go, its orders stay
    # (a new sandbox per run would give every buyer one more copy of each order).
    with container.services.uow() as uow:
        if uow.sandboxes.exists(sandbox):
            reset_sandbox(container.services, sandbox, start=_at(day, 8))
        else:
            create_sandbox(
                container.services, sandbox_id=sandbox, name="演示 / demo", start=_at(day, 8)
            )
        data.load_demo(container.services, orders_into=world)
        uow.commit()
    services = container.services
    narrator = _Narrator(container, console, languages)
    result = DemoResult(sandbox)
    if languages:
        console.rule(f"[bold]aftersales demo[/bold] · sandbox '{sandbox}' · {day.isoformat()}")

    def item(item_id: str) -> str:
        return prefix + item_id

    def buyer_of(item_id: str) -> str:
        with engine.connect() as conn:
            row = conn.execute(
                select(s.orders.c.buyer_account)
                .select_from(
                    s.order_items.join(s.orders, s.order_items.c.order_id == s.orders.c.id)
                )
                .where(s.order_items.c.id == item_id)
            ).one()
        return str(row.buyer_account)

    def consumer(item_id: str, channel: Channel = Channel.HELP_BUTTON) -> Actor:
        return Actor(Role.CONSUMER, buyer_of(item_id), channel)

    def provider_of(case_id: str) -> Actor:
        case = svc.get_case(services, case_id)
        role = Role.MERCHANT if case.assignee == case.item.merchant_id else Role.PROVIDER
        if case.programme is Programme.NATIONAL_WARRANTY:
            role = Role.BRAND
        return Actor(role, case.assignee or case.item.merchant_id, Channel.WEB)

    def until(at: datetime) -> None:
        _, report = advance_sandbox(services, sandbox, to=at)
        result.payouts += report.payouts
        result.points += report.points_paid
        narrator.flush()

    # ---- scenes: a time-ordered queue; a scene may schedule later ones ----
    queue: list[tuple[datetime, int, str, Callable[[], None]]] = []
    counter = iter(range(1_000_000))

    def schedule(at: datetime, text: str, action: Callable[[], None]) -> None:
        heapq.heappush(queue, (at, next(counter), text, action))

    def scene(at: datetime, text: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
        def register(fn: Callable[[], None]) -> Callable[[], None]:
            schedule(at, text, fn)
            return fn

        return register

    kettle, lamp, tiles = (
        item(data.ITEM_KETTLE_SHANGHAI),
        item(data.ITEM_LAMP_HANGZHOU),
        item(data.ITEM_TILES_GUANGZHOU),
    )
    wardrobe, lamp_bj, old_phone = (
        item(data.ITEM_WARDROBE_NANJING),
        item(data.ITEM_LAMP_BEIJING),
        item(data.ITEM_PHONE_OUT_OF_WARRANTY),
    )
    ngari, lhasa, sofa = (
        item(data.ITEM_LAMP_NGARI),
        item(data.ITEM_TILES_LHASA),
        item(data.ITEM_SOFA_CHENGDU),
    )
    ids: dict[str, str] = {}

    @scene(
        _at(day, 9, 5),
        "400 热线坐席为来电买家报修电热水壶 / a hotline agent files a kettle repair for the caller (NW-2)",
    )
    def _() -> None:
        agent = Actor(Role.AGENT, "agent-017", Channel.HOTLINE, "热线 017")
        ids["nw"] = svc.report_repair(
            services, order_item_id=kettle, actor=agent, description="加热后自动断电，指示灯闪烁"
        ).case.id
        narrator.follow("NW 寄修", ids["nw"])

    @scene(
        _at(day, 9, 30), "品牌受理，请买家寄回 / the brand accepts and asks for a mail-in (NW-4)"
    )
    def _() -> None:
        svc.act(services, ids["nw"], "accept", provider_of(ids["nw"]), "请寄回检测，运费由品牌承担")

    @scene(_at(day, 9, 40), "沙发送装求助，服务方按时给出方案 / sofa help answered in time")
    def _() -> None:
        ids["sofa"] = svc.request_help(
            services,
            order_item_id=sofa,
            actor=consumer(sofa),
            failure="installation_late",
            description="约好的安装师傅没来",
        ).case.id
        narrator.follow("OH 沙发", ids["sofa"])

    @scene(_at(day, 9, 55), "服务方给出方案 / the provider gives a plan")
    def _() -> None:
        svc.act(
            services, ids["sofa"], "give_solution", provider_of(ids["sofa"]), "今天 16:00 上门安装"
        )

    @scene(
        _at(day, 10, 0),
        "10:00 灯具一键求助，无人处理 / help at 10:00 for a lamp; nobody answers (OH-4, OH-5)",
    )
    def _() -> None:
        ids["oh-1h"] = svc.request_help(
            services,
            order_item_id=lamp,
            actor=consumer(lamp),
            failure="installation_late",
            description="预约安装超时未上门",
        ).case.id
        narrator.follow("OH 10:00", ids["oh-1h"])

    @scene(
        _at(day, 10, 20),
        "买家再次点击求助：返回同一求助 / a second click returns the open request (OH-3)",
    )
    def _() -> None:
        again = svc.request_help(
            services, order_item_id=lamp, actor=consumer(lamp), failure="installation_late"
        )
        narrator.say(_at(day, 10, 20), f"  → {again.case.id} (created: {again.created})")

    @scene(_at(day, 10, 30), "瓷砖未送货入户 / tiles not delivered into the home (OH-6, SS-1)")
    def _() -> None:
        ids["oh-48h"] = svc.request_help(
            services,
            order_item_id=tiles,
            actor=consumer(tiles),
            failure="not_delivered_into_home",
            description="只送到楼下",
        ).case.id
        narrator.follow("OH 瓷砖", ids["oh-48h"])

    @scene(
        _at(day, 10, 50), "服务方给出方案但没有解决 / a plan is given, the problem is never solved"
    )
    def _() -> None:
        svc.act(
            services, ids["oh-48h"], "give_solution", provider_of(ids["oh-48h"]), "明天安排搬运上楼"
        )

    @scene(_at(day, 11, 30), "10:00 的求助迟到给出方案 / the 10:00 request gets its plan late")
    def _() -> None:
        svc.act(
            services,
            ids["oh-1h"],
            "give_solution",
            provider_of(ids["oh-1h"]),
            "今天 15:00 上门安装",
        )

    @scene(
        _at(day, 12, 0),
        "买家就已赔付的超时投诉 / the buyer complains about the paid failure (OH-7)",
    )
    def _() -> None:
        complaint = svc.file_complaint(
            services, ids["oh-1h"], "solution", consumer(lamp), "一个多小时没人联系我"
        )
        result.refused.append(complaint.id)

    @scene(_at(day, 14, 0), "衣柜三年质保求助 / wardrobe three-year-warranty help (SS-4)")
    def _() -> None:
        ids["wardrobe"] = svc.request_help(
            services,
            order_item_id=wardrobe,
            actor=consumer(wardrobe),
            failure="warranty_not_provided",
            description="柜门变形，质保不处理",
        ).case.id
        narrator.follow("OH 衣柜", ids["wardrobe"])
        svc.act(
            services, ids["wardrobe"], "give_solution", provider_of(ids["wardrobe"]), "明早上门检测"
        )

    @scene(_at(day, 15, 0), "10:00 的求助完结 / the 10:00 request is resolved (OH-9)")
    def _() -> None:
        svc.act(
            services, ids["oh-1h"], "resolve", provider_of(ids["oh-1h"]), "已安装并通电测试正常"
        )

    @scene(
        _at(day, 16, 0),
        "沙发安装完成；阿里地区求助被拒 / sofa done; a request from 阿里 is refused (OH-2)",
    )
    def _() -> None:
        svc.act(services, ids["sofa"], "resolve", provider_of(ids["sofa"]), "已安装，买家验收")
        try:
            svc.request_help(
                services, order_item_id=ngari, actor=consumer(ngari), failure="installation_late"
            )
        except AftersalesError as exc:
            narrator.say(_at(day, 16, 0), f"  → refused: {exc}")

    @scene(
        _at(day, 16, 30),
        "拉萨无送货服务方：直接指派商家 / no provider in 拉萨: the merchant gets it (OH-3)",
    )
    def _() -> None:
        ids["lhasa"] = svc.request_help(
            services, order_item_id=lhasa, actor=consumer(lhasa), failure="delivered_late"
        ).case.id
        narrator.follow("OH 拉萨", ids["lhasa"])
        svc.act(
            services,
            ids["lhasa"],
            "give_solution",
            provider_of(ids["lhasa"]),
            "已联系物流，明天送达",
        )

    @scene(
        _at(day, 17, 0),
        "过保手机报修：运费和维修费由买家承担 / an out-of-warranty phone (NW-1, NW-6)",
    )
    def _() -> None:
        form = consumer(old_phone, Channel.SERVICE_FORM)
        ids["nw-old"] = svc.report_repair(
            services, order_item_id=old_phone, actor=form, description="电池续航很短"
        ).case.id
        narrator.follow("NW 过保", ids["nw-old"])
        brand = provider_of(ids["nw-old"])
        svc.act(services, ids["nw-old"], "accept", brand, "可付费更换电池")
        svc.issue_quote(services, ids["nw-old"], 28_000, brand)
        svc.answer_quote(services, ids["nw-old"], True, form)

    @scene(
        _at(day, 18, 30),
        "18:30 的求助：不适用 1 小时承诺 / help at 18:30: no 1-hour commitment (OH-4)",
    )
    def _() -> None:
        ids["oh-evening"] = svc.request_help(
            services, order_item_id=lamp_bj, actor=consumer(lamp_bj), failure="installation_late"
        ).case.id
        narrator.follow("OH 18:30", ids["oh-evening"])

    next_day = day + timedelta(days=1)

    @scene(
        _at(next_day, 9, 10),
        "次日：18:30 的求助得到方案并完结 / next morning the 18:30 request is handled",
    )
    def _() -> None:
        svc.act(
            services,
            ids["oh-evening"],
            "give_solution",
            provider_of(ids["oh-evening"]),
            "上午 11 点上门",
        )
        svc.pause_clock(
            services,
            ids["wardrobe"],
            "resolution",
            "buyer_rescheduled",
            provider_of(ids["wardrobe"]),
        )

    @scene(
        _at(next_day, 11, 0),
        "完结；衣柜买家改约后恢复计时 / resolved; the wardrobe clock resumes (SS-2)",
    )
    def _() -> None:
        svc.act(
            services, ids["oh-evening"], "resolve", provider_of(ids["oh-evening"]), "已上门安装完毕"
        )
        svc.resume_clock(services, ids["wardrobe"], "resolution", provider_of(ids["wardrobe"]))

    @scene(_at(next_day, 17, 0), "衣柜问题解决 / the wardrobe is fixed")
    def _() -> None:
        svc.act(services, ids["wardrobe"], "resolve", provider_of(ids["wardrobe"]), "已更换柜门")
        svc.act(services, ids["lhasa"], "resolve", provider_of(ids["lhasa"]), "已送货入户")

    @scene(
        _at(day + timedelta(days=2), 14, 0),
        "品牌收到寄修的水壶：30 天反馈时限开始 / the brand receives the kettle (NW-5)",
    )
    def _() -> None:
        svc.act(services, ids["nw"], "receive_item", provider_of(ids["nw"]))

    complaint_day = day + timedelta(days=33)

    @scene(
        _at(complaint_day, 10, 0),
        "30 天无反馈，买家投诉 / no feedback for 30 days: the buyer complains (NW-7)",
    )
    def _() -> None:
        ids["nw-complaint"] = svc.file_complaint(
            services, ids["nw"], "feedback", consumer(kettle), "寄修一个多月没有任何消息"
        ).id

    @scene(_at(complaint_day, 16, 0), "平台判定投诉成立 / operations uphold the complaint (NW-7)")
    def _() -> None:
        svc.decide_complaint(
            services, ids["nw"], ids["nw-complaint"], True, OPS, "平台上没有任何反馈记录"
        )

    for at, item_id, failure, answer_after, resolve_after in _plan_background(day, prefix):
        schedule(
            at,
            "",
            _background(
                services,
                schedule,
                item_id,
                failure,
                at,
                answer_after,
                resolve_after,
                consumer,
                provider_of,
            ),
        )

    while queue:
        at, _seq, text, action = heapq.heappop(queue)
        until(at)
        if text:
            narrator.say(at, text)
        action()
        narrator.flush()
    until(_at(complaint_day, 18, 0))
    result.featured = {k: v for k, v in ids.items() if k != "nw-complaint"}
    _summary(container, console, sandbox, languages)
    return result


def _background(  # type: ignore[no-untyped-def]
    services, schedule, item_id, failure, at, answer_after, resolve_after, consumer, provider_of
) -> Callable[[], None]:
    """A background help request: opened at ``at``; its provider answers and resolves later, or never."""

    def open_request() -> None:
        try:
            case_id = svc.request_help(
                services, order_item_id=item_id, actor=consumer(item_id), failure=failure
            ).case.id
        except AftersalesError:
            return  # e.g. an address outside the covered cities: refused with its reason

        def answer() -> None:
            svc.act(
                services, case_id, "give_solution", provider_of(case_id), "已与买家约定上门时间"
            )

        def resolve() -> None:
            if svc.get_case(services, case_id).is_open:
                svc.act(services, case_id, "resolve", provider_of(case_id), "问题已解决，买家确认")

        if answer_after is not None:
            schedule(at + answer_after, "", answer)
        if resolve_after is not None:
            schedule(
                at + max(resolve_after, (answer_after or timedelta(0)) + timedelta(minutes=1)),
                "",
                resolve,
            )

    return open_request


def _plan_background(
    day: date, prefix: str
) -> list[tuple[datetime, str, str, timedelta | None, timedelta | None]]:
    """Seeded background requests across the day on eligible items not used by the featured scenes."""
    featured = {
        data.ITEM_LAMP_HANGZHOU,
        data.ITEM_LAMP_BEIJING,
        data.ITEM_TILES_GUANGZHOU,
        data.ITEM_SOFA_CHENGDU,
        data.ITEM_WARDROBE_NANJING,
        data.ITEM_LAMP_NGARI,
        data.ITEM_TILES_KASHGAR,
        data.ITEM_TILES_LHASA,
    }
    failures = {
        "scheduled_installation": ["installation_late", "installation_refused"],
        "delivery_into_home": ["delivered_late", "not_delivered_into_home"],
        "delivery_with_installation": ["installation_late", "delivered_late"],
        "three_year_warranty": ["warranty_not_provided"],
    }
    products = {r["id"]: r for r in data.catalogue_records() if r["kind"] == "product"}
    rng = random.Random(BACKGROUND_SEED)
    candidates = []
    for order in data.order_records():
        for row in order["items"]:
            product = products[row["product_id"]]
            tags = sorted(t for t in product["service_tags"] if t in failures)
            if row["id"] in featured or not tags or product["badges"]:
                continue
            candidates.append((prefix + row["id"], tags[0]))
    rng.shuffle(candidates)
    plan = []
    for item_id, tag in candidates[:BACKGROUND_REQUESTS]:
        minute = rng.randrange(8 * 60 + 30, 20 * 60)
        at = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=SHANGHAI)
        roll = rng.random()
        answer = (
            timedelta(minutes=rng.randrange(5, 55))
            if roll < 0.75
            else (timedelta(minutes=rng.randrange(65, 150)) if roll < 0.9 else None)
        )
        resolve = timedelta(hours=rng.randrange(3, 40)) if rng.random() < 0.85 else None
        plan.append((at, item_id, rng.choice(failures[tag]), answer, resolve))
    return plan


def _summary(
    container: Container, console: Console, sandbox: str, languages: Sequence[Language]
) -> None:
    engine = container.engine
    with engine.connect() as conn:
        entries = conn.execute(
            select(s.ledger_entries)
            .where(s.ledger_entries.c.sandbox == sandbox)
            .order_by(s.ledger_entries.c.id)
        ).all()
        cases = conn.execute(select(s.cases.c.id).where(s.cases.c.sandbox == sandbox)).all()
    if not languages:
        return
    console.rule("payouts / 赔付")
    table = Table("case", "clock", "rule", "amount", "payer", "payee", "paid at")
    by_rule: dict[str, list[int]] = {}
    for e in entries:
        table.add_row(
            e.case_id,
            e.clock_id,
            e.rule,
            f"{e.amount:,} {e.unit}",
            e.payer,
            e.payee,
            local_time(e.at, "Asia/Shanghai"),
        )
        by_rule.setdefault(e.rule, []).append(e.amount)
    console.print(table)
    keys = [e.key for e in entries]
    console.print(
        f"{len(cases)} cases, {len(entries)} payouts ("
        + ", ".join(f"{rule}: {len(v)}, {sum(v):,} points" for rule, v in sorted(by_rule.items()))
        + ")"
        + f"; distinct payout keys {len(set(keys))} of {len(keys)} (each failure paid once)"
    )
    console.print(f"explain any case: aftersales case explain <case id>   ·   sandbox '{sandbox}'")


def ensure_demo(container: Container, console: Console) -> None:
    """For ``serve --demo``: play the demo once into the database if it has none yet."""
    accounts = ensure_demo_accounts(container)
    console.print(f"{accounts} demo accounts ready (see README, 'Demo accounts')")
    if any(sb.id.startswith(DEMO_PREFIX) for sb in list_sandboxes(container.services)):
        console.print("demo sandbox already loaded")
        return
    with console.status("loading the demo data set and playing its day on the sandbox clock…"):
        result = play_demo(container, console, ())
    console.print(f"demo loaded into sandbox '{result.sandbox}': {result.payouts} payouts made")
