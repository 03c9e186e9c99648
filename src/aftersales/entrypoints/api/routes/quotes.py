"""Paid repairs (NW-6): the service side quotes a price, the buyer accepts or declines it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from aftersales.domain.lifecycle import Channel
from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.deps import Caller, PostOnce, ServicesDep, case_after, visible_case
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.services import cases as case_services

router = APIRouter(prefix="/api/v1", tags=["quotes"], responses=PROBLEMS)


@router.post("/cases/{case_id}/quote")
def give_quote(
    case_id: str, body: m.QuoteIssued, caller: Caller, svc: ServicesDep, once: PostOnce
) -> JSONResponse:
    """A paid repair's quote (NW-6); the buyer accepts or declines it."""
    visible_case(svc, caller, case_id)
    actor = caller.actor(Channel.API)
    return once(
        svc,
        caller,
        body,
        case_after(
            svc,
            caller,
            case_id,
            lambda: case_services.issue_quote(svc, case_id, body.amount_fen, actor),
        ),
    )


@router.post("/cases/{case_id}/quote/answer")
def answer_quote(
    case_id: str, body: m.QuoteAnswer, caller: Caller, svc: ServicesDep, once: PostOnce
) -> JSONResponse:
    """The buyer accepts or declines the quote."""
    visible_case(svc, caller, case_id)
    actor = caller.actor(Channel.API)
    return once(
        svc,
        caller,
        body,
        case_after(
            svc,
            caller,
            case_id,
            lambda: case_services.answer_quote(svc, case_id, body.accept, actor),
        ),
    )
