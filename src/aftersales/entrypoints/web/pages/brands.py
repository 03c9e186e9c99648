"""Brands' after-sales information for everyone signed in (NW-3): the list, and one brand."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.responses import HTMLResponse, Response

from aftersales.entrypoints.api.deps import ServicesDep
from aftersales.entrypoints.web.pages.common import PageContext, page, page_router, render
from aftersales.services import views

router = page_router()
BrandPage = Annotated[PageContext, Depends(page("brand"))]


@router.get("/brands/{brand_id}", response_class=HTMLResponse)
def brand_page(brand_id: str, ctx: BrandPage, svc: ServicesDep) -> Response:
    info = views.brand_after_sales(svc, brand_id)
    return render(ctx, "brand.html", brand=info)


@router.get("/brands", response_class=HTMLResponse)
def brands_page(ctx: BrandPage, svc: ServicesDep) -> Response:
    return render(ctx, "brands.html", brands=views.brands(svc))
