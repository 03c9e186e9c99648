"""Issue 15 where people see it: the installer held the breached OH-4 clock, so the case
page and the case API show the installer's share to operations, the shop and the
installer; the buyer sees the payout it was paid and never the share."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from aftersales.bootstrap import Container
from aftersales.demo import dataset as data
from aftersales.domain.lifecycle import Role
from aftersales.services.sandboxes import advance_sandbox
from tests.e2e.test_field_pages import _lamp_case, _signed_in, world

__all__ = ["world"]


def test_oh_5_the_providers_share_shows_to_operations_the_shop_and_the_provider_not_the_buyer(
    world: tuple[Container, TestClient],
) -> None:
    container, app = world
    case_id = _lamp_case(container, "f-share")
    advance_sandbox(container.services, "f-share", by=timedelta(hours=2))
    share_mark = 'class="payout share"'
    seers = (
        ("ops", Role.OPERATIONS),
        (data.MERCHANT_GUANGMING, Role.MERCHANT),
        (data.PROVIDER_HANGZHOU_LIGHTING, Role.PROVIDER),
    )
    for username, role in seers:
        client = _signed_in(app, username, role, "en")
        page = client.get(f"/cases/{case_id}").text
        assert share_mark in page, role
        assert "owes the merchant" in page and "(OH-5)" in page
        seen = client.get(f"/api/v1/cases/{case_id}").json()
        shares = seen["shares"]
        assert any(d["subject"].endswith("/provider-share") for d in seen["decisions"])
        listed = client.get(
            "/api/v1/payouts", params={"kind": "shares", "sandbox": "f-share"}
        ).json()["items"]
        assert [(p["case_id"], p["payer"], p["amount"]) for p in listed] == [
            (case_id, data.PROVIDER_HANGZHOU_LIGHTING, 5000)
        ]
        assert "OH-5" in listed[0]["explanation"]["en"]
        assert [(s["payer"], s["payee"], s["amount"], s["rule"]) for s in shares] == [
            (data.PROVIDER_HANGZHOU_LIGHTING, data.MERCHANT_GUANGMING, 5000, "OH-5")
        ]
    buyer = _signed_in(app, data.DEMO_BUYER, Role.CONSUMER, "en")
    page = buyer.get(f"/cases/{case_id}").text
    assert share_mark not in page and "owes the merchant" not in page
    assert (
        buyer.get("/api/v1/payouts", params={"kind": "shares", "sandbox": "f-share"}).json()[
            "items"
        ]
        == []
    )
    paid = buyer.get("/api/v1/payouts", params={"sandbox": "f-share"}).json()["items"]
    assert [p["payer"] for p in paid] == [data.MERCHANT_GUANGMING]
    refused = buyer.get("/api/v1/payouts", params={"kind": "owed"})
    assert refused.status_code == 422 and "kind" in refused.text
    seen = buyer.get(f"/api/v1/cases/{case_id}").json()
    assert seen["shares"] == [] and [p["rule"] for p in seen["payouts"]] == ["OH-5"]
    assert seen["decisions"] and not any(
        d["subject"].endswith("/provider-share") for d in seen["decisions"]
    )


def test_compliance_page_groups_by_the_party_that_held_each_judged_clock(
    world: tuple[Container, TestClient],
) -> None:
    container, app = world
    _lamp_case(container, "f-held")
    advance_sandbox(container.services, "f-held", by=timedelta(hours=2))
    ops = _signed_in(app, "ops", Role.OPERATIONS, "en")
    page = ops.get("/ops", params={"by": "holder", "sandbox": "f-held"})
    assert page.status_code == 200
    assert "Held by when judged" in page.text
    assert "Provider · " in page.text  # the installer, by name, held the breached OH-4
    zh = _signed_in(app, "ops", Role.OPERATIONS, "zh")
    assert "违约/履约时的承接方" in zh.get("/ops", params={"by": "holder"}).text
