"""A brand's after-sales information (NW-3): hotline, warranty terms, service centres."""

from __future__ import annotations

from fastapi import APIRouter

from aftersales.entrypoints.api import models as m
from aftersales.entrypoints.api.deps import Caller, ServicesDep
from aftersales.entrypoints.api.errors import PROBLEMS
from aftersales.services import views

router = APIRouter(prefix="/api/v1", tags=["brands"], responses=PROBLEMS)


@router.get("/brands/{brand_id}", response_model=m.BrandOut)
def brand_info(brand_id: str, caller: Caller, svc: ServicesDep) -> m.BrandOut:
    """A brand's hotline, warranty terms, exclusions and service centres (NW-3)."""
    info = views.brand_after_sales(svc, brand_id)
    return m.BrandOut(
        id=info.brand_id,
        name=info.name,
        hotline=info.hotline,
        warranty_terms=m.Bilingual(zh=info.warranty_terms.zh, en=info.warranty_terms.en),
        exclusions=[m.Bilingual(zh=e.zh, en=e.en) for e in info.exclusions],
        centres=[
            m.ServiceCentreOut(name=c.name, city=c.city, address=c.address, phone=c.phone)
            for c in info.centres
        ],
    )
