"""Master data, inbound events and import jobs in memory.

Rows are kept as written (deep copies, so nobody changes them afterwards) in
``tables.master``; each write also updates the reference tables the other
memory repositories read (brands, providers and coverage, products, orders and
items), as the SQL tables are the same rows for both.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from aftersales.adapters.memory.state import ItemRecord, OrderRecord, ProviderRecord, utc
from aftersales.adapters.memory.stores import _OnStore
from aftersales.domain.brands import BrandAfterSales, ServiceCentre
from aftersales.domain.dispatch import Closure
from aftersales.domain.eligibility import OrderItem, Product
from aftersales.domain.explain import Bilingual
from aftersales.domain.slots import windows_from_json
from aftersales.errors import NotFound


class MemoryMasterData(_OnStore):
    def stored(
        self, kind: str, ids: Sequence[str], *, columns: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        t = self._t
        if kind == "order_item":
            found: dict[str, dict[str, Any]] = {}
            for item_id in ids:
                row = t.order_items.get(item_id)
                if row is not None:
                    found[item_id] = {"id": item_id, "order_id": row.order_id}
            return found
        return {i: copy.deepcopy(t.master[(kind, i)]) for i in ids if (kind, i) in t.master}

    def write(self, kind: str, rows: Sequence[Mapping[str, Any]], *, new: bool = False) -> None:
        t = self._t
        for given in rows:
            row = copy.deepcopy(dict(given))
            if kind == "order":
                previous = t.master.get((kind, row["id"]), {})
                items = {i["id"]: i for i in previous.get("items", [])}
                items.update({i["id"]: i for i in row.get("items", [])})
                row["items"] = [items[k] for k in sorted(items)]
            t.master[(kind, row["id"])] = row
            getattr(self, f"_{kind}")(row)

    # -- the reference tables the other repositories read

    def _brand(self, row: dict[str, Any]) -> None:
        self._t.brands[row["id"]] = BrandAfterSales(
            brand_id=row["id"],
            name=row["name"],
            hotline=row["hotline"],
            warranty_terms=Bilingual(row["warranty_terms_zh"], row["warranty_terms_en"]),
            exclusions=tuple(Bilingual(e["zh"], e["en"]) for e in row["exclusions"]),
            centres=tuple(ServiceCentre(**c) for c in row.get("centres", [])),
        )

    def _merchant(self, row: dict[str, Any]) -> None:
        self._t.merchants[row["id"]] = row["name"]

    def _buyer(self, row: dict[str, Any]) -> None:
        self._t.buyers[row["id"]] = (row.get("name") or "", row.get("phone") or "")

    def _provider(self, row: dict[str, Any]) -> None:
        t = self._t
        t.providers[row["id"]] = ProviderRecord(
            row["name"],
            row["kind"],
            row["brand_id"],
            row["calendar"],
            row["phone"],
            active=row["active"],
            sandbox=row["sandbox"],
            windows=windows_from_json(row.get("appointment_windows")),
            base_area=row.get("base_area"),
        )
        t.coverage = {key: w for key, w in t.coverage.items() if key[0] != row["id"]}
        for c in row.get("coverage", []):
            key = (row["id"], c["area_code"], c["category_id"], c["service_tag"], c["fulfil"])
            t.coverage[key] = row["sandbox"]
        capacity = {a["area_code"]: a["per_day"] for a in row.get("area_capacity", [])}
        if row.get("daily_capacity") is not None:
            capacity[""] = row["daily_capacity"]
        t.capacity[row["id"]] = capacity
        t.closures[row["id"]] = tuple(
            Closure(c["first_day"], c["last_day"], c["reason"]) for c in row.get("closures", [])
        )

    def _product(self, row: dict[str, Any]) -> None:
        self._t.products[row["id"]] = _product(row, row)

    def _order(self, row: dict[str, Any]) -> None:
        t = self._t
        t.orders[row["id"]] = OrderRecord(
            row["sandbox"],
            row["buyer_account"],
            row["merchant_id"],
            utc(row["placed_at"]),
            row.get("contact_phone") or "",
        )
        for i in row.get("items", []):
            product = t.products.get(i["product_id"])
            if product is None:
                raise NotFound("product", i["product_id"])
            t.order_items[i["id"]] = ItemRecord(
                order_id=row["id"],
                product_id=i["product_id"],
                paid_price_fen=i["paid_price_fen"],
                purchased_on=i["purchased_on"],
                delivered_on=i["delivered_on"],
                address_text=i["address_text"],
                province=i["province"],
                city=i["city"],
                district=i["district"],
                area_code=i["area_code"],
                entitlements=_product({**i, "id": i["product_id"]}, {"name": product.name}),
                entitled_on=i["entitled_on"],
                status=i["status"],
                contact_phone=i.get("contact_phone") or "",
            )

    def page(
        self,
        kind: str,
        *,
        sandboxes: Sequence[str],
        after: str | None,
        limit: int,
        filters: Mapping[str, str],
    ) -> list[dict[str, Any]]:
        found = []
        for (k, row_id), row in sorted(self._t.master.items()):
            if k != kind or row["sandbox"] not in sandboxes:
                continue
            if after is not None and row_id <= after:
                continue
            if any(
                column in row and str(row[column]).lower() != str(value).lower()
                for column, value in filters.items()
            ):
                continue
            found.append(copy.deepcopy(row))
            if len(found) == limit:
                break
        return found

    def set_item_status(
        self, order_id: str, item_ids: Sequence[str] | None, status: str, **changes: Any
    ) -> int:
        t = self._t
        row = t.master.get(("order", order_id))
        if row is None:
            return 0
        row = copy.deepcopy(row)
        moved = 0
        for item in row["items"]:
            if item_ids is None or item["id"] in item_ids:
                item.update(status=status, **changes)
                moved += 1
        self.write("order", [row])
        return moved

    def order_items(
        self,
        *,
        sandboxes: Sequence[str] | None,
        buyer: str | None = None,
        merchant: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> list[tuple[str, OrderItem]]:
        t = self._t
        found = []
        for item_id in sorted(t.order_items):
            row = t.order_items[item_id]
            order = t.orders.get(row.order_id)
            if order is None or (sandboxes is not None and order.sandbox not in sandboxes):
                continue
            if buyer is not None and order.buyer_account != buyer:
                continue
            if merchant is not None and order.merchant_id != merchant:
                continue
            if after is not None and item_id <= after:
                continue
            found.append((order.sandbox, self.store.order_item(item_id)))
            if len(found) == limit:
                break
        return found


def _product(row: Mapping[str, Any], named: Mapping[str, Any]) -> Product:
    return Product(
        id=row["id"],
        name=named["name"],
        brand_id=row["brand_id"],
        category_id=row["category_id"],
        badges=frozenset(row["badges"] or ()),
        service_tags=frozenset(row["service_tags"] or ()),
        warranty_months=row["warranty_months"],
    )


class MemoryInbox(_OnStore):
    def add(self, event: Mapping[str, Any]) -> bool:
        key = (event["sandbox"], event["id"])
        if key in self._t.inbox:
            return False
        self._t.inbox[key] = copy.deepcopy(dict(event))
        return True

    def get(self, sandbox: str, event_id: str) -> dict[str, Any] | None:
        found = self._t.inbox.get((sandbox, event_id))
        return None if found is None else copy.deepcopy(found)

    def set_outcome(self, sandbox: str, event_id: str, outcome: str, message: str) -> None:
        key = (sandbox, event_id)
        if key in self._t.inbox:
            self._t.inbox[key] = {**self._t.inbox[key], "outcome": outcome, "message": message}


class MemoryImportJobs(_OnStore):
    def add(self, job: Mapping[str, Any]) -> None:
        self._t.import_jobs[job["id"]] = copy.deepcopy(dict(job))

    def get(self, job_id: str) -> dict[str, Any] | None:
        found = self._t.import_jobs.get(job_id)
        return None if found is None else copy.deepcopy(found)

    def update(self, job_id: str, **changes: Any) -> None:
        if job_id in self._t.import_jobs:
            self._t.import_jobs[job_id] = {**self._t.import_jobs[job_id], **changes}

    def claim_next(self, at: datetime) -> dict[str, Any] | None:
        queued = sorted(
            (j for j in self._t.import_jobs.values() if j["status"] == "queued"),
            key=lambda j: (j["created_at"], j["id"]),
        )
        if not queued:
            return None
        self.update(queued[0]["id"], status="running", started_at=at)
        return self.get(queued[0]["id"])

    def list(self, *, limit: int = 50) -> list[dict[str, Any]]:
        jobs = sorted(self._t.import_jobs.values(), key=lambda j: j["id"])
        jobs.sort(key=lambda j: j["created_at"], reverse=True)
        return [copy.deepcopy(j) for j in jobs[:limit]]
