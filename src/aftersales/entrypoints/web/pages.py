"""The web application: server-rendered pages for every party, Chinese first.

Each page checks who may see it (:data:`PAGE_ROLES`) before it reads anything;
every form carries the session's CSRF token; every change goes through the
same use cases the API calls, recorded with channel ``web`` (X-4).
"""

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from sqlalchemy import select

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.reference import brand_after_sales, order_items_of_buyer
from aftersales.bootstrap import Container
from aftersales.demo.play import create_demo_sandbox
from aftersales.domain.explain import local_time
from aftersales.domain.lifecycle import Channel, Programme, Role
from aftersales.domain.policy import _parse_duration
from aftersales.entrypoints.error_table import status_of
from aftersales.entrypoints.web.i18n import LANG_COOKIE, LANGS, Lang, pick_lang, text
from aftersales.entrypoints.web.viewer import Viewer, WebAuth
from aftersales.errors import AftersalesError, InvalidRequest
from aftersales.services import cases as svc
from aftersales.services import views
from aftersales.services.reports import case_report
from aftersales.services.sandboxes import (
    advance_sandbox,
    create_sandbox,
    current_time,
    get_sandbox,
    list_sandboxes,
)

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
SHANGHAI = ZoneInfo("Asia/Shanghai")
WARN_BEFORE_S = 15 * 60  # a queue line turns amber this long before its deadline
ALL = frozenset(Role) - {Role.SYSTEM}
# Who may do what on a case page, besides what the lifecycle's transitions allow.
PAUSERS = frozenset({Role.PROVIDER, Role.MERCHANT, Role.OPERATIONS})  # SS-2 exemptions
COMPLAINANTS = frozenset({Role.CONSUMER, Role.AGENT})
QUOTERS = frozenset({Role.BRAND, Role.PROVIDER, Role.MERCHANT})  # NW-6

# Which roles may open which page (the authorization test reads this table).
PAGE_ROLES: dict[str, frozenset[Role]] = {
    "orders": frozenset({Role.CONSUMER}),
    "repair_form": frozenset({Role.CONSUMER}),
    "help": frozenset({Role.CONSUMER}),
    "case": ALL,  # and then only a case the viewer's scope includes
    "queue": frozenset({Role.PROVIDER, Role.MERCHANT, Role.BRAND, Role.OPERATIONS}),
    "agent": frozenset({Role.AGENT, Role.OPERATIONS}),
    "partner": frozenset({Role.MERCHANT, Role.BRAND}),
    "ops": frozenset({Role.OPERATIONS}),
    "ops_payouts": frozenset({Role.OPERATIONS}),
    "ops_complaints": frozenset({Role.OPERATIONS}),
    "ops_sandboxes": frozenset({Role.OPERATIONS}),
    "brand": ALL,
}

HOME_OF: dict[Role, str] = {
    Role.CONSUMER: "/my/orders",
    Role.AGENT: "/agent",
    Role.PROVIDER: "/provider/queue",
    Role.MERCHANT: "/partner",
    Role.BRAND: "/partner",
    Role.OPERATIONS: "/ops",
}


class PageRefused(Exception):
    def __init__(self, status: int, key: str, detail: str = "") -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.detail = detail


@dataclass
class PageContext:
    request: Request
    viewer: Viewer | None
    lang: Lang

    def t(self, key: str) -> str:
        return text(key, self.lang)


def _fmt_points(value: int, unit: str = "points", lang: Lang = "zh") -> str:
    """An amount as people read it: points with their yuan value (100 points = ¥1), or yuan."""
    if unit == "points":
        word = "积分" if lang == "zh" else "points"
        return f"{value:,} {word} (¥{value / 100:,.2f})"
    return f"¥{value / 100:,.2f}"


@pass_context
def _points_filter(context: Any, value: int, unit: str = "points") -> str:
    return _fmt_points(value, unit, context.get("lang", "zh"))


def _fmt_left(seconds: float, lang: Lang) -> str:
    sign = "-" if seconds < 0 else ""
    whole = int(abs(seconds))
    h, rem = divmod(whole, 3600)
    m, sec = divmod(rem, 60)
    if h >= 48:
        d, h = divmod(h, 24)
        return f"{sign}{d}{'天' if lang == 'zh' else 'd '}{h}{'小时' if lang == 'zh' else 'h'}"
    return f"{sign}{h:02d}:{m:02d}:{sec:02d}"


@dataclass(frozen=True)
class Web:
    """The pages' router, and how a refusal is shown as a page."""

    router: APIRouter
    refusal: Callable[[Request, int, str, str], Response]


def build_web(container: Container, auth: WebAuth) -> Web:
    """The pages; the app factory includes the router and mounts ``STATIC_DIR``."""
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.globals.update(HOME_OF=HOME_OF, Role=Role, LANGS=LANGS)
    env.filters["points"] = _points_filter
    env.filters["local"] = lambda value: local_time(value, "Asia/Shanghai") if value else ""
    env.filters["iso"] = lambda value: value.isoformat() if value else ""
    env.filters["local_iso"] = lambda value: (
        local_time(datetime.fromisoformat(value), "Asia/Shanghai") if value else ""
    )

    def refusal(request: Request, status: int, key: str, detail: str = "") -> Response:
        if status == 401:
            target = quote(request.url.path)
            return RedirectResponse(f"/login?next={target}", status_code=303)
        return render(context(request), "error.html", status=status, key=key, detail=detail)

    class WebRoute(APIRoute):
        """Refusals on a page become a page in the viewer's language, never JSON."""

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                try:
                    return await handler(request)
                except PageRefused as refused:
                    return refusal(request, refused.status, refused.key, refused.detail)
                except AftersalesError as exc:
                    status, key = error_status(exc)
                    return refusal(request, status, key, str(exc))

            return handle

    router = APIRouter(include_in_schema=False, route_class=WebRoute)
    services = container.services
    engine = container.engine
    book = container.book
    attachments = services.files
    assert attachments is not None, "bootstrap gives the services a file store"

    def context(request: Request) -> PageContext:
        lang = pick_lang(request.query_params.get("lang") or request.cookies.get(LANG_COOKIE))
        return PageContext(request, auth.viewer(request), lang)

    def page(name: str) -> Callable[[PageContext], PageContext]:
        roles = PAGE_ROLES[name]

        def check(ctx: PageContext = Depends(context)) -> PageContext:
            if ctx.viewer is None:
                raise PageRefused(401, "login")
            if ctx.viewer.role not in roles:
                raise PageRefused(403, "error.forbidden")
            return ctx

        return check

    def render(ctx: PageContext, template: str, status: int = 200, **values: Any) -> Response:
        response = templates.TemplateResponse(
            ctx.request,
            template,
            {"ctx": ctx, "t": ctx.t, "lang": ctx.lang, "viewer": ctx.viewer, **values},
            status_code=status,
        )
        if ctx.request.query_params.get("lang") in LANGS:
            response.set_cookie(LANG_COOKIE, ctx.lang, max_age=365 * 86_400, samesite="lax")
        return response

    def require_csrf(ctx: PageContext, token: str | None) -> Viewer:
        viewer = ctx.viewer
        if viewer is None:
            raise PageRefused(401, "login")
        if not viewer.csrf_ok(token):
            raise PageRefused(403, "error.csrf")
        return viewer

    def see_case(ctx: PageContext, case_id: str) -> Viewer:
        viewer = ctx.viewer
        assert viewer is not None
        if not views.may_see_case(services, viewer.scope, case_id):
            # Not "forbidden": whether the case exists is not the viewer's business.
            raise PageRefused(404, "error.not_found")
        return viewer

    def on_case(
        ctx: PageContext, case_id: str, csrf_token: str, roles: frozenset[Role] = ALL
    ) -> Viewer:
        """A change to a case: a valid form, a case the viewer may see, a role that may act."""
        viewer = require_csrf(ctx, csrf_token)
        see_case(ctx, case_id)
        if viewer.role not in roles:
            raise PageRefused(403, "error.forbidden")
        return viewer

    def back_to_case(case_id: str) -> RedirectResponse:
        return RedirectResponse(f"/cases/{quote(case_id)}", status_code=303)

    # ------------------------------------------------------------ sign-in, language

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, failed: bool = False) -> Response:
        ctx = context(request)
        if ctx.viewer is not None and not failed:
            return RedirectResponse(HOME_OF[ctx.viewer.role], status_code=303)
        return render(ctx, "login.html", failed=failed)

    @router.post("/login")
    def login(
        request: Request,
        username: str = Form(...),
        password: str = Form(...),
    ) -> Response:
        response = RedirectResponse("/", status_code=303)
        viewer = auth.sign_in(response, username.strip(), password)
        if viewer is None:
            ctx = context(request)
            return render(ctx, "login.html", status=401, failed=True, username=username)
        response.headers["location"] = HOME_OF[viewer.role]
        return response

    @router.post("/logout")
    def logout(request: Request, csrf_token: str = Form("")) -> Response:
        ctx = context(request)
        require_csrf(ctx, csrf_token)
        response = RedirectResponse("/login", status_code=303)
        auth.sign_out(request, response)
        return response

    @router.get("/lang/{code}")
    def switch_lang(code: str, request: Request, back: str = "/") -> Response:
        target = back if back.startswith("/") and not back.startswith("//") else "/"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(LANG_COOKIE, pick_lang(code), max_age=365 * 86_400, samesite="lax")
        return response

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        ctx = context(request)
        if ctx.viewer is None:
            return RedirectResponse("/login", status_code=303)
        return RedirectResponse(HOME_OF[ctx.viewer.role], status_code=303)

    # ------------------------------------------------------------ consumer

    @router.get("/my/orders", response_class=HTMLResponse)
    def my_orders(ctx: Annotated[PageContext, Depends(page("orders"))]) -> Response:
        viewer = ctx.viewer
        assert viewer is not None
        with engine.connect() as conn:
            items = order_items_of_buyer(conn, viewer.party or "")
            sandbox_of = dict(
                conn.execute(
                    select(s.orders.c.id, s.orders.c.sandbox).where(
                        s.orders.c.buyer_account == (viewer.party or "")
                    )
                ).all()
            )
        with engine.connect() as conn:
            open_rows = conn.execute(
                select(s.cases.c.id, s.cases.c.order_item_id, s.cases.c.programme).where(
                    s.cases.c.order_item_id.in_([i.id for i in items]), s.cases.c.is_open
                )
            ).all()
        open_by_item: dict[str, list[Any]] = {}
        for row in open_rows:
            open_by_item.setdefault(row.order_item_id, []).append(row)
        standards = book.service_standards
        rows = []
        for item in items:
            tags = sorted(item.product.service_tags)
            failures: list[tuple[str, str]] = []
            for tag in tags:
                standard = standards.for_tag(tag)
                if standard is not None:
                    failures.extend(
                        (f.id, f.name.zh if ctx.lang == "zh" else f.name.en)
                        for f in standards.failures_of(standard)
                    )
            rows.append(
                {
                    "item": item,
                    "sandbox": sandbox_of.get(item.order_id, "live"),
                    "badges": [book.catalog.tag(b).name for b in sorted(item.product.badges)],
                    "services": [book.catalog.tag(tag).name for tag in tags],
                    "national_warranty": "national_warranty" in item.product.badges,
                    "failures": list(dict.fromkeys(failures)),
                    "open_cases": open_by_item.get(item.id, []),
                }
            )
        return render(ctx, "orders.html", rows=rows)

    @router.post("/items/{item_id}/help")
    def press_help(
        ctx: Annotated[PageContext, Depends(page("help"))],
        item_id: str,
        request: Request,
        failure: str = Form(...),
        csrf_token: str = Form(""),
    ) -> Response:
        viewer = require_csrf(ctx, csrf_token)
        _own_item(viewer, item_id)
        opened = svc.request_help(
            services,
            order_item_id=item_id,
            actor=viewer.actor(Channel.HELP_BUTTON),
            failure=failure,
        )
        return back_to_case(opened.case.id)

    @router.get("/items/{item_id}/repair", response_class=HTMLResponse)
    def repair_form(
        item_id: str, ctx: Annotated[PageContext, Depends(page("repair_form"))]
    ) -> Response:
        viewer = ctx.viewer
        assert viewer is not None
        item = _own_item(viewer, item_id)
        return render(ctx, "repair.html", item=item)

    @router.post("/items/{item_id}/repair")
    async def submit_repair(
        ctx: Annotated[PageContext, Depends(page("repair_form"))],
        item_id: str,
        description: str = Form(""),
        phone: str = Form(""),
        preferred_time: str = Form(""),
        csrf_token: str = Form(""),
        photos: list[UploadFile] = File(default_factory=list),
    ) -> Response:
        viewer = require_csrf(ctx, csrf_token)
        item = _own_item(viewer, item_id)
        details = description.strip()
        extra = [
            f"{text('repair.phone', 'zh')} / phone: {phone.strip()}" if phone.strip() else "",
            f"{text('repair.time', 'zh')} / time: {preferred_time.strip()}"
            if preferred_time.strip()
            else "",
        ]
        if details:
            details = "\n".join([details, *[e for e in extra if e]])
        uploads = [
            (p.filename or "photo", p.content_type, await p.read()) for p in photos if p.filename
        ]
        # Every photo is checked (type by content, size) before the report is filed,
        # so a bad photo refuses the whole form and nothing is half done.
        for name, declared, content in uploads:
            attachments.put(content, filename=name, declared_type=declared)
        opened = svc.report_repair(
            services,
            order_item_id=item.id,
            actor=viewer.actor(Channel.SERVICE_FORM),
            description=details,
        )
        for name, declared, content in uploads:
            svc.add_attachment(
                services,
                data=content,
                filename=name,
                declared_type=declared,
                actor=viewer.actor(Channel.SERVICE_FORM),
                case_id=opened.case.id,
            )
        return back_to_case(opened.case.id)

    def _own_item(viewer: Viewer, item_id: str) -> Any:
        with engine.connect() as conn:
            items = {i.id: i for i in order_items_of_buyer(conn, viewer.party or "")}
        if item_id not in items:
            raise PageRefused(404, "error.not_found")
        return items[item_id]

    # ------------------------------------------------------------ a case, for everyone

    @router.get("/cases/{case_id}", response_class=HTMLResponse)
    def case_page(case_id: str, ctx: Annotated[PageContext, Depends(page("case"))]) -> Response:
        viewer = see_case(ctx, case_id)
        case = svc.get_case(services, case_id)
        report = case_report(case, book)
        sandbox = svc.case_sandbox(services, case_id)
        now = current_time(services, sandbox)
        actions = [
            t
            for t in case.lifecycle.transitions.values()
            if case.state in t.sources and viewer.role in t.roles
        ]
        policy = case.policy(book)
        pause_reasons = []
        for definition in policy.clocks:
            for reason in definition.pause_reasons:
                pause_reasons.append(
                    (definition.id, reason, book.service_standards.exemption_names.get(reason))
                )
        attachments = svc.attachments_of(services, case_id)
        return render(
            ctx,
            "case.html",
            case=report,
            sandbox=sandbox,
            now=now,
            live=sandbox == "live",
            actions=actions,
            pause_reasons=pause_reasons,
            attachments=attachments,
            can_complain=viewer.role in COMPLAINANTS,
            can_decide=viewer.role is Role.OPERATIONS,
            can_quote=viewer.role in QUOTERS and case.programme is Programme.NATIONAL_WARRANTY,
            can_pause=viewer.role in PAUSERS,
            seconds_left=lambda due: (datetime.fromisoformat(due) - now).total_seconds(),
            fmt_left=lambda seconds: _fmt_left(seconds, ctx.lang),
        )

    @router.post("/cases/{case_id}/act")
    def act(
        ctx: Annotated[PageContext, Depends(page("case"))],
        case_id: str,
        action: str = Form(...),
        note: str = Form(""),
        csrf_token: str = Form(""),
    ) -> Response:
        viewer = on_case(ctx, case_id, csrf_token)
        svc.act(services, case_id, action, viewer.actor(), note.strip())
        return back_to_case(case_id)

    @router.post("/cases/{case_id}/pause")
    def pause(
        ctx: Annotated[PageContext, Depends(page("case"))],
        case_id: str,
        clock_reason: str = Form(...),
        csrf_token: str = Form(""),
    ) -> Response:
        viewer = on_case(ctx, case_id, csrf_token, PAUSERS)
        clock_id, _, reason = clock_reason.partition(":")
        svc.pause_clock(services, case_id, clock_id, reason, viewer.actor())
        return back_to_case(case_id)

    @router.post("/cases/{case_id}/resume")
    def resume(
        ctx: Annotated[PageContext, Depends(page("case"))],
        case_id: str,
        clock_id: str = Form(...),
        csrf_token: str = Form(""),
    ) -> Response:
        viewer = on_case(ctx, case_id, csrf_token, PAUSERS)
        svc.resume_clock(services, case_id, clock_id, viewer.actor())
        return back_to_case(case_id)

    @router.post("/cases/{case_id}/complaints")
    def complain(
        ctx: Annotated[PageContext, Depends(page("case"))],
        case_id: str,
        clock_id: str = Form(""),
        complaint_text: str = Form(""),
        csrf_token: str = Form(""),
    ) -> Response:
        viewer = on_case(ctx, case_id, csrf_token, COMPLAINANTS)
        svc.file_complaint(
            services, case_id, clock_id or None, viewer.actor(), complaint_text.strip()
        )
        return back_to_case(case_id)

    @router.post("/cases/{case_id}/complaints/{complaint_id}/decide")
    def decide(
        ctx: Annotated[PageContext, Depends(page("ops_complaints"))],
        case_id: str,
        complaint_id: str,
        uphold: str = Form(...),
        note: str = Form(""),
        csrf_token: str = Form(""),
    ) -> Response:
        viewer = require_csrf(ctx, csrf_token)
        svc.decide_complaint(
            services, case_id, complaint_id, uphold == "yes", viewer.actor(), note.strip()
        )
        return back_to_case(case_id)

    @router.post("/cases/{case_id}/quote")
    def quote_case(
        ctx: Annotated[PageContext, Depends(page("case"))],
        case_id: str,
        amount_yuan: str = Form(...),
        csrf_token: str = Form(""),
    ) -> Response:
        viewer = on_case(ctx, case_id, csrf_token, QUOTERS)
        try:
            fen = round(float(amount_yuan) * 100)
        except ValueError as exc:
            raise InvalidRequest(
                f"'{amount_yuan}' is not an amount in yuan; write it like 280 or 280.50"
            ) from exc
        svc.issue_quote(services, case_id, fen, viewer.actor())
        return back_to_case(case_id)

    @router.post("/cases/{case_id}/quote/answer")
    def answer_quote(
        ctx: Annotated[PageContext, Depends(page("case"))],
        case_id: str,
        accept: str = Form(...),
        csrf_token: str = Form(""),
    ) -> Response:
        viewer = on_case(ctx, case_id, csrf_token, frozenset({Role.CONSUMER}))
        svc.answer_quote(services, case_id, accept == "yes", viewer.actor())
        return back_to_case(case_id)

    # ------------------------------------------------------------ provider queue

    @router.get("/provider/queue", response_class=HTMLResponse)
    def queue(
        ctx: Annotated[PageContext, Depends(page("queue"))], partial: bool = False
    ) -> Response:
        viewer = ctx.viewer
        assert viewer is not None
        now = container.clock.now()
        lines = views.provider_queue(services, viewer.scope, live_now=now)
        clock_names = {
            (programme.value, definition.id): definition.name
            for programme in Programme
            for definition in book.in_force(programme, now).clocks
        }
        template = "queue_rows.html" if partial else "queue.html"
        return render(
            ctx,
            template,
            lines=lines,
            clock_names=clock_names,
            warn_before_s=WARN_BEFORE_S,
            fmt_left=lambda seconds: _fmt_left(seconds, ctx.lang),
        )

    # ------------------------------------------------------------ hotline agent

    @router.get("/agent", response_class=HTMLResponse)
    def agent(ctx: Annotated[PageContext, Depends(page("agent"))], q: str = "") -> Response:
        found = views.find_orders_for_caller(services, q) if q else []
        return render(ctx, "agent.html", q=q, found=found, searched=bool(q))

    @router.post("/agent/report")
    def agent_report(
        ctx: Annotated[PageContext, Depends(page("agent"))],
        item_id: str = Form(...),
        caller: str = Form(""),
        description: str = Form(""),
        csrf_token: str = Form(""),
    ) -> Response:
        viewer = require_csrf(ctx, csrf_token)
        actor = viewer.actor(Channel.HOTLINE)
        details = description.strip()
        if details and caller.strip():
            details = f"{details}\n来电人 / caller: {caller.strip()}"
        opened = svc.report_repair(
            services, order_item_id=item_id, actor=actor, description=details
        )
        return back_to_case(opened.case.id)

    # ------------------------------------------------------------ merchants and brands

    @router.get("/partner", response_class=HTMLResponse)
    def partner(ctx: Annotated[PageContext, Depends(page("partner"))]) -> Response:
        viewer = ctx.viewer
        assert viewer is not None
        end = container.clock.now() + timedelta(days=400)
        start = end - timedelta(days=800)
        return render(
            ctx,
            "partner.html",
            cases=views.case_lines(services, viewer.scope, limit=100),
            payouts=views.payout_lines(services, viewer.scope, limit=100),
            compliance=views.compliance(services, viewer.scope, by="clock", start=start, end=end),
        )

    # ------------------------------------------------------------ operations

    @router.get("/ops", response_class=HTMLResponse)
    def ops(
        ctx: Annotated[PageContext, Depends(page("ops"))],
        by: str = Query("provider"),
        start: date | None = Query(None, alias="from"),
        end: date | None = Query(None, alias="to"),
        sandbox: str = Query(""),
    ) -> Response:
        viewer = ctx.viewer
        assert viewer is not None
        if by not in views.GROUPINGS:
            raise InvalidRequest(f"group by one of {', '.join(views.GROUPINGS)}, not '{by}'")
        today = container.clock.now().astimezone(SHANGHAI).date()
        end_day = end or today + timedelta(days=60)
        start_day = start or end_day - timedelta(days=120)
        if start_day >= end_day:
            raise InvalidRequest("the period's start must come before its end")
        result = views.compliance(
            services,
            viewer.scope,
            by=by,
            start=datetime.combine(start_day, time(), SHANGHAI),
            end=datetime.combine(end_day, time(), SHANGHAI),
            sandbox=sandbox or None,
        )
        chart = {
            "keys": [row.key for row in result.rows[:30]],
            "met": [row.met for row in result.rows[:30]],
            "breached": [row.breached for row in result.rows[:30]],
        }
        return render(
            ctx,
            "ops.html",
            result=result,
            by=by,
            start=start_day,
            end=end_day,
            sandbox=sandbox,
            sandboxes=list_sandboxes(services),
            groupings=list(views.GROUPINGS),
            chart=chart,
        )

    @router.get("/ops/payouts", response_class=HTMLResponse)
    def ops_payouts(ctx: Annotated[PageContext, Depends(page("ops_payouts"))]) -> Response:
        viewer = ctx.viewer
        assert viewer is not None
        return render(
            ctx, "payouts.html", payouts=views.payout_lines(services, viewer.scope, limit=500)
        )

    @router.get("/ops/complaints", response_class=HTMLResponse)
    def ops_complaints(ctx: Annotated[PageContext, Depends(page("ops_complaints"))]) -> Response:
        with engine.connect() as conn:
            pending = conn.execute(
                select(s.complaints)
                .where(s.complaints.c.status == "pending")
                .order_by(s.complaints.c.filed_at)
                .limit(200)
            ).all()
        return render(ctx, "complaints.html", pending=pending)

    @router.get("/ops/sandboxes", response_class=HTMLResponse)
    def ops_sandboxes(ctx: Annotated[PageContext, Depends(page("ops_sandboxes"))]) -> Response:
        return render(ctx, "sandboxes.html", sandboxes=list_sandboxes(services))

    @router.post("/ops/sandboxes")
    def ops_create_sandbox(
        ctx: Annotated[PageContext, Depends(page("ops_sandboxes"))],
        sandbox_id: str = Form(...),
        start: str = Form(""),
        demo_data: str = Form(""),
        csrf_token: str = Form(""),
    ) -> Response:
        require_csrf(ctx, csrf_token)
        starts_at = None
        if start.strip():
            try:
                starts_at = datetime.fromisoformat(start.strip())
            except ValueError as exc:
                raise InvalidRequest(
                    f"'{start}' is not a date and time; write it like 2026-11-24T10:00+08:00"
                ) from exc
            if starts_at.tzinfo is None:
                starts_at = starts_at.replace(tzinfo=SHANGHAI)
        if demo_data:
            create_demo_sandbox(container, sandbox_id.strip(), start=starts_at)
        else:
            create_sandbox(services, sandbox_id=sandbox_id.strip(), start=starts_at)
        return RedirectResponse("/ops/sandboxes", status_code=303)

    @router.post("/ops/sandboxes/{sandbox_id}/advance")
    def ops_advance(
        ctx: Annotated[PageContext, Depends(page("ops_sandboxes"))],
        sandbox_id: str,
        by: str = Form(...),
        csrf_token: str = Form(""),
    ) -> Response:
        require_csrf(ctx, csrf_token)
        get_sandbox(services, sandbox_id)
        try:
            delta = _parse_duration(by.strip())
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from exc
        if not isinstance(delta, timedelta):
            raise InvalidRequest(f"'{by}' is not a duration such as 61m, 48h or 30d")
        advance_sandbox(services, sandbox_id, by=delta, real_now=container.clock.now())
        return RedirectResponse("/ops/sandboxes", status_code=303)

    # ------------------------------------------------------------ brand info (NW-3)

    @router.get("/brands/{brand_id}", response_class=HTMLResponse)
    def brand_page(brand_id: str, ctx: Annotated[PageContext, Depends(page("brand"))]) -> Response:
        with engine.connect() as conn:
            info = brand_after_sales(conn, brand_id)
        return render(ctx, "brand.html", brand=info)

    @router.get("/brands", response_class=HTMLResponse)
    def brands_page(ctx: Annotated[PageContext, Depends(page("brand"))]) -> Response:
        with engine.connect() as conn:
            rows = conn.execute(
                select(s.brands.c.id, s.brands.c.name, s.brands.c.hotline).order_by(s.brands.c.id)
            ).all()
        return render(ctx, "brands.html", brands=rows)

    return Web(router, refusal)


def error_status(exc: AftersalesError) -> tuple[int, str]:
    """How a refused command shows on a page: not found, or a sentence to act on."""
    status, _ = status_of(exc)
    return status, "error.not_found" if status == 404 else "error.title"
