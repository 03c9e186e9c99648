"""Brands' after-sales information for everyone signed in (NW-3): the list, and one brand."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from aftersales.adapters.db import schema as s
from aftersales.adapters.db.reference import brand_after_sales
from aftersales.entrypoints.api.deps import ServicesDep
from aftersales.entrypoints.web.pages.common import PageContext, page, page_router, render

router = page_router()
BrandPage = Annotated[PageContext, Depends(page("brand"))]


@router.get("/brands/{brand_id}", response_class=HTMLResponse)
def brand_page(brand_id: str, ctx: BrandPage, svc: ServicesDep) -> Response:
    with svc.engine.connect() as conn:
        info = brand_after_sales(conn, brand_id)
    return render(ctx, "brand.html", brand=info)


@router.get("/brands", response_class=HTMLResponse)
def brands_page(ctx: BrandPage, svc: ServicesDep) -> Response:
    with svc.engine.connect() as conn:
        rows = conn.execute(
            select(s.brands.c.id, s.brands.c.name, s.brands.c.hotline).order_by(s.brands.c.id)
        ).all()
    return render(ctx, "brands.html", brands=rows)
