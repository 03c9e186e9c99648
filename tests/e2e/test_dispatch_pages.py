"""OH-3 on the case page: the provider declines with a reason, operations reassign to a
named provider, and a refused hand-over is drawn again with the problem beside its field."""

from __future__ import annotations

from fastapi.testclient import TestClient

from aftersales.bootstrap import Container
from aftersales.demo import dataset as data
from aftersales.domain.lifecycle import Role
from tests.e2e.test_field_pages import _lamp_case, _post, _signed_in, world

__all__ = ["world"]


def test_oh_3_the_provider_declines_on_its_case_page_and_operations_reassign_it_back(
    world: tuple[Container, TestClient],
) -> None:
    container, app = world
    case_id = _lamp_case(container, "f-dispatch")
    installer = _signed_in(app, data.PROVIDER_HANGZHOU_LIGHTING, Role.PROVIDER)
    page = installer.get(f"/cases/{case_id}").text
    assert 'action="/cases/' + case_id + '/decline"' in page and "拒绝接单" in page
    assert "/reassign" not in page  # operations reassign, not providers
    shop = _signed_in(app, data.MERCHANT_GUANGMING, Role.MERCHANT)
    assert "/decline" not in shop.get(f"/cases/{case_id}").text

    blank = _post(installer, f"/cases/{case_id}/decline", reason="  ")
    assert blank.status_code == 422 and "请填写理由。" in blank.text  # type: ignore[attr-defined]
    gone = _post(installer, f"/cases/{case_id}/decline", reason="今天没有师傅")
    assert gone.status_code == 303  # type: ignore[attr-defined]
    assert installer.get(f"/cases/{case_id}").status_code == 404  # no longer theirs

    ops = _signed_in(app, "ops", Role.OPERATIONS, "en")
    page = ops.get(f"/cases/{case_id}").text
    assert "declined the request" in page and "今天没有师傅" in page
    assert "remains liable (OH-3)" in page
    # Operations are offered the providers that qualify now (the one holding it left out),
    # and read how they were weighed; the buyer reads neither.
    assert 'datalist id="qualified-providers"' in page and "Qualified now, best first" in page
    assert "runner-up" in page
    seen = _signed_in(app, data.DEMO_BUYER, Role.CONSUMER, "en").get(f"/cases/{case_id}")
    assert seen.status_code == 200 and "declined the request" in seen.text
    assert "runner-up" not in seen.text and "qualified-providers" not in seen.text
    refused = _post(ops, f"/cases/{case_id}/reassign", provider_id="dlv-south", reason="try")
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "does not cover this address, category and service" in refused.text  # type: ignore[attr-defined]
    assert 'value="dlv-south"' in refused.text  # type: ignore[attr-defined]  # drawn again as typed
    back = _post(
        ops, f"/cases/{case_id}/reassign", provider_id=data.PROVIDER_HANGZHOU_LIGHTING, reason="ok"
    )
    assert back.status_code == 303  # type: ignore[attr-defined]
    assert installer.get(f"/cases/{case_id}").status_code == 200  # theirs again
