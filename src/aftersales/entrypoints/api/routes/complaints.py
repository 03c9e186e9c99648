"""Breach-of-commitment complaints: filed by the buyer or an agent, decided by operations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from aftersales.domain.cases import Complaint
from aftersales.domain.lifecycle import Channel
from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.deps import Caller, PostOnce, ServicesDep, visible_case
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.services import cases as case_services
from aftersales.services.idempotency import Answer

router = APIRouter(prefix="/api/v1", tags=["complaints"], responses=PROBLEMS)


@router.post("/cases/{case_id}/complaints", status_code=201, response_model=m.ComplaintOut)
def complain(
    case_id: str, body: m.ComplaintFiled, caller: Caller, svc: ServicesDep, once: PostOnce
) -> JSONResponse:
    """A breach-of-commitment complaint; refused with the reason once paid (OH-7, SS-5)."""
    visible_case(svc, caller, case_id)

    def produce() -> Answer:
        complaint = case_services.file_complaint(
            svc, case_id, body.clock_id, caller.actor(Channel.API), body.text
        )
        return Answer(201, complaint_body(complaint))

    return once(svc, caller, body, produce)


@router.post("/cases/{case_id}/complaints/{complaint_id}/decision", response_model=m.ComplaintOut)
def decide(
    case_id: str,
    complaint_id: str,
    body: m.ComplaintDecision,
    caller: Caller,
    svc: ServicesDep,
    once: PostOnce,
) -> JSONResponse:
    """Operations uphold or dismiss a complaint; an upheld NW-7 complaint pays the buyer."""

    def produce() -> Answer:
        complaint = case_services.decide_complaint(
            svc, case_id, complaint_id, body.uphold, caller.actor(Channel.API), body.note
        )
        return Answer(200, complaint_body(complaint))

    return once(svc, caller, body, produce)


def complaint_body(complaint: Complaint) -> dict[str, Any]:
    """A complaint as the API answers it (:class:`~aftersales.entrypoints.api.models.ComplaintOut`)."""
    return {
        "id": complaint.id,
        "clock": complaint.clock_id,
        "status": complaint.status,
        "explanation": {
            "rule": complaint.reason.rule,
            "zh": complaint.reason.zh,
            "en": complaint.reason.en,
        },
    }
