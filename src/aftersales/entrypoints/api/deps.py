"""What a request is given before its route runs: container, services, caller, helpers.

Routes and pages never hold the container in a closure: they declare these
dependencies. :func:`services` is the only way to the use cases: it opens the
request's unit of work (one connection, one transaction) and hands out services
bound to it, so authentication, the ownership check, the idempotency
reservation, the command and its stored answer are one BEGIN … COMMIT. It
commits when the route returns, before the response is sent; a route that
raises leaves it rolled back. :func:`caller` says who calls (a bearer token, or
a signed-in session with its CSRF token on writes); :func:`own_item` and
:func:`visible_case` answer "not found" for what the caller may not see;
:class:`Once` makes a POST idempotent under its ``Idempotency-Key``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import nullcontext
from typing import Annotated, Any, cast
from weakref import WeakKeyDictionary

import anyio
import orjson
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from aftersales.bootstrap import Container
from aftersales.domain.lifecycle import Programme, Role
from aftersales.entrypoints.viewer import Viewer, WebAuth
from aftersales.errors import CaseNotFound, ConfigurationError, Forbidden, NotFound, NotSignedIn
from aftersales.services import accounts, idempotency, views
from aftersales.services import cases as case_services
from aftersales.services.base import Services
from aftersales.services.idempotency import Answer
from aftersales.services.ports import FileStore, UnitOfWork
from aftersales.services.records import Account, IntakeItem


def container(request: Request) -> Container:
    """The app's container, put on ``app.state`` by the factory (or by ``mount_web``)."""
    return cast(Container, request.app.state.container)


# Dependencies that only read the app's state are coroutines: FastAPI runs a plain
# function dependency in its thread pool, a hop (and back) that costs more than the
# dependency itself; intake paid seven such hops a request.
async def container_dep(request: Request) -> Container:
    return container(request)


class ConnectionSlots:
    """At most ``count`` requests of this process hold a database connection at once.

    The unit of work is entered in one worker thread and left (committed) in
    another. Were every thread of the pool taken by requests waiting for a
    connection, the requests holding the connections would find no thread to
    commit in, and all would wait until the pool's timeout: under a burst, a
    stall of 30 s and a row of 500s. So a request first waits here, in the event
    loop and holding no thread, for a slot, and takes a connection only then.
    One semaphore per event loop (a test client may run several, one after another).
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self._by_loop: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            WeakKeyDictionary()
        )

    def here(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        found = self._by_loop.get(loop)
        if found is None:
            found = self._by_loop[loop] = asyncio.Semaphore(self.count)
        return found


async def services(request: Request) -> AsyncIterator[Services]:
    """The use cases, bound to this request's unit of work; routes and pages get them only here.

    The request first waits for a connection slot (:class:`ConnectionSlots`), holding no
    thread. The unit of work is entered on the event loop when that sends nothing (an idle
    pooled connection on PostgreSQL), else in the thread pool. It is committed when
    the route returns; a route that commits it in its own thread (:class:`Once` does)
    spares the request the thread hop back for the COMMIT.

    The container and the slots are read here, not declared as dependencies of their
    own: FastAPI's work per dependency is about as much as theirs, and every request
    with a database pays it.
    """
    box = container(request)
    slots: ConnectionSlots | None = getattr(request.app.state, "connection_slots", None)
    async with slots.here() if slots is not None else nullcontext():
        uow = box.services.uow()
        if uow.opens_at_once():
            uow.__enter__()
        else:
            await run_in_threadpool(uow.__enter__)
        failed: BaseException | None = None
        try:
            yield box.services.bound(uow)
        except BaseException as exc:
            failed = exc
            raise
        finally:
            if failed is None and uow.settled():
                uow.__exit__(None, None, None)  # the connection goes back to the pool, no I/O
            else:
                # Shielded: a request cancelled meanwhile (a shutdown) still rolls back and
                # gives its connection back.
                with anyio.CancelScope(shield=True):
                    await run_in_threadpool(_leave, uow, failed)


def _leave(uow: UnitOfWork, failed: BaseException | None) -> None:
    """Commit what the route did (unless it failed) and leave the unit of work."""
    if failed is None:
        try:
            uow.commit()
        except BaseException as exc:
            uow.__exit__(type(exc), exc, exc.__traceback__)
            raise
        uow.__exit__(None, None, None)
    else:
        uow.__exit__(type(failed), failed, failed.__traceback__)


def web_auth(request: Request) -> WebAuth:
    """How signed-in sessions are read (the cookie sessions, or a test's fake)."""
    return cast(WebAuth, request.app.state.web_auth)


async def web_auth_dep(request: Request) -> WebAuth:
    return web_auth(request)


ContainerDep = Annotated[Container, Depends(container_dep)]
# scope="function": the unit of work ends (commits) before the response is sent.
ServicesDep = Annotated[Services, Depends(services, scope="function")]


async def caller(request: Request, svc: ServicesDep) -> Viewer:
    """Who calls: a system with ``Authorization: Bearer <token>``, or a signed-in session.

    A bearer token is sent deliberately, so it needs no CSRF token; a session
    cookie is sent by the browser on its own, so writes with it must carry the
    session's token in ``X-CSRF-Token``. A token this process checked a moment ago
    is judged here, on the event loop; anything that reads the database is run in
    the thread pool.
    """
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return await run_in_threadpool(_session_caller, request, svc, web_auth(request))
    token = credential.strip()
    account = accounts.authenticate_kept_token(svc, token)
    if account is None:
        account = await run_in_threadpool(accounts.authenticate_token, svc, token)
    return _token_caller(request, account)


def _token_caller(request: Request, account: Account) -> Viewer:
    if account.role is Role.INTEGRATION and not _for_integrations(request):
        raise Forbidden(
            "an integration token loads master data, events and imports; it takes no part in cases"
        )
    return Viewer(account.id, account.name, account.role, account.party, "")


def _session_caller(request: Request, svc: Services, auth: WebAuth) -> Viewer:
    viewer = auth.viewer(request, svc)
    if viewer is None:
        raise NotSignedIn(
            "this endpoint needs a signed-in session or an API token (Authorization: Bearer …)"
        )
    if request.method not in ("GET", "HEAD", "OPTIONS") and not viewer.csrf_ok(
        request.headers.get("X-CSRF-Token")
    ):
        raise Forbidden("send the session's CSRF token in X-CSRF-Token")
    return viewer


Caller = Annotated[Viewer, Depends(caller)]

# The routers an integration token may call (their tags).
INTEGRATION_TAGS = frozenset(
    {"master data", "order items", "events", "imports", "policies", "tokens"}
)


def _for_integrations(request: Request) -> bool:
    route = request.scope.get("route")
    return bool(INTEGRATION_TAGS.intersection(getattr(route, "tags", None) or ()))


def file_store(svc: ServicesDep) -> FileStore:
    """Where attachments are kept (bootstrap gives the services one)."""
    if svc.files is None:
        raise ConfigurationError("this process was built without an attachment store")
    return svc.files


AttachmentStore = Annotated[FileStore, Depends(file_store)]


def own_item(
    svc: Services, caller: Viewer, order_item_id: str, opening: Programme | None = None
) -> IntakeItem | None:
    """A consumer acts on items they bought; an agent (or operations) on any caller's (NW-2a).

    ``opening``: the caller is about to open a case of this programme on the item, so the
    check reads what opening needs too (the item, its sandbox, the open case: one query)
    and hands it back, for the use case to take as ``known``.
    """
    if caller.role is Role.AGENT or caller.role is Role.OPERATIONS:
        return None
    if caller.role is not Role.CONSUMER:
        raise NotFound("order item", order_item_id)
    facts = None
    if opening is None:
        buyer = views.buyer_of_item(svc, order_item_id)
    else:
        facts = case_services.intake_item(svc, order_item_id, opening)
        buyer = facts.item.buyer_account
    if buyer != caller.party:
        raise NotFound("order item", order_item_id)
    return facts


def visible_case(svc: Services, caller: Viewer, case_id: str) -> None:
    """A case the caller may not see is answered as one that does not exist."""
    if not views.may_see_case(svc, caller.scope, case_id):
        raise CaseNotFound(case_id)


class JsonAnswer(JSONResponse):
    """A JSON answer encoded by orjson: a case's answer is a few kilobytes of nested
    dicts, which the standard library's encoder took a tenth of a request to write. What
    orjson refuses (an integer beyond 64 bits) is left to the standard library."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:  # orjson.JSONEncodeError is one
            return super().render(content)


class Once:
    """Answer a POST once per ``Idempotency-Key``: a repeat gets the first answer back.

    A dependency of the request alone: the route hands it the services and the caller it
    was given already. (Declared as sub-dependencies of this one, FastAPI would solve each
    of them again for every request, a cost like theirs.)
    """

    def __init__(self, request: Request) -> None:
        self.request = request

    def __call__(
        self, svc: Services, caller: Viewer, payload: BaseModel, produce: Callable[[], Answer]
    ) -> JSONResponse:
        """``produce()``'s answer, or the stored one; ``payload`` is what makes requests equal."""
        request = self.request
        answer = idempotency.once(
            svc,
            account_id=caller.account_id,
            key=request.headers.get("Idempotency-Key"),
            digest=idempotency.request_digest(
                request.method, request.url.path, payload.model_dump(mode="json")
            ),
            produce=produce,
        )
        # The request's one commit, here in the route's thread (see ``services``).
        svc.uow().commit()
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
        return JsonAnswer(answer.body, status_code=answer.status, headers=headers)


async def post_once(request: Request) -> Once:
    return Once(request)


PostOnce = Annotated[Once, Depends(post_once)]


def case_after(
    svc: Services, caller: Viewer, case_id: str, change: Callable[[], object]
) -> Callable[[], Answer]:
    """An answer producer: make ``change``, then answer with the case as it now stands, as
    ``caller`` may see it (the customer's contact masked unless theirs to see)."""

    def produce() -> Answer:
        change()
        case = case_services.get_case(svc, case_id)
        return Answer(200, views.case_view(svc, caller.scope, case).as_json())

    return produce
