"""Operations', merchants' and brands' pages through HTTP: the case search with its filters,
counts and pages, the CSV exports (UTF-8 with BOM, headings in the page's language, a
shop's export holding only its own cases), the breach board, complaints decided beside
their case, and live data unless a sandbox is chosen."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from fastapi import FastAPI

from aftersales.bootstrap import Container
from aftersales.demo import dataset as data
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.services import cases as svc
from aftersales.services.sandboxes import advance_sandbox
from tests.e2e.test_web_pages import KETTLE, PNG, SANDBOX, _client, world  # noqa: F401

TILES = f"{SANDBOX}.{data.ITEM_TILES_GUANGZHOU}"  # buyer-002's tiles, sold by shop-shiji
LAMP = f"{SANDBOX}.{data.ITEM_LAMP_HANGZHOU}"  # buyer-001's lamp, sold by shop-guangming
World = tuple[Container, FastAPI]


def _open(container: Container, item: str, buyer: str, failure: str) -> str:
    return svc.request_help(
        container.services,
        order_item_id=item,
        actor=Actor(Role.CONSUMER, buyer, Channel.HELP_BUTTON),
        failure=failure,
    ).case.id


@pytest.fixture(scope="module")
def cases(world: World) -> dict[str, str]:  # noqa: F811
    container, _ = world
    lamp = _open(container, LAMP, data.DEMO_BUYER, "installation_late")
    tiles = _open(container, TILES, "buyer-002", "not_delivered_into_home")
    return {"lamp": lamp, "tiles": tiles}


def _rows(response: object) -> list[list[str]]:
    body: bytes = response.content  # type: ignore[attr-defined]
    assert body.startswith(b"\xef\xbb\xbf"), body[:20]  # the BOM Excel needs for Chinese
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_the_case_search_filters_counts_and_names_the_parties(
    world: World,  # noqa: F811
    cases: dict[str, str],
) -> None:
    _, app = world
    ops = _client(app, "ops")
    page = ops.get("/ops/cases", params={"sandbox": SANDBOX, "q": "买家 002"})
    assert page.status_code == 200
    assert re.findall(r'data-case="([^"]+)"', page.text) == [cases["tiles"]]
    assert 'data-total="1"' in page.text
    assert "世纪陶瓷旗舰店" in page.text  # the shop by its name
    assert "求助中（已指派）" in page.text  # the state in words, not "dispatched"
    assert ">dispatched<" not in page.text
    live = ops.get("/ops/cases", params={"q": "买家 002"})  # live data unless a sandbox
    assert 'data-total="0"' in live.text and "没有符合条件的服务单" in live.text
    english = ops.get("/ops/cases", params={"sandbox": SANDBOX, "lang": "en"})
    assert "Case search" in english.text and "open (dispatched)" in english.text


def test_pages_follow_one_another_with_a_next_link(world: World, cases: dict[str, str]) -> None:  # noqa: F811
    _, app = world
    ops = _client(app, "ops")
    first = ops.get("/ops/cases", params={"sandbox": SANDBOX})
    total = int(re.search(r'data-total="(\d+)"', first.text).group(1))  # type: ignore[union-attr]
    seen = re.findall(r'data-case="([^"]+)"', first.text)
    assert total == len(seen) >= 2  # one page holds them all; no "next" link
    assert 'rel="next"' not in first.text


def test_a_bad_filter_is_refused_in_the_pages_language(world: World) -> None:  # noqa: F811
    _, app = world
    ops = _client(app, "ops")
    refused = ops.get("/ops/cases", params={"sandbox": SANDBOX, "due": "soon"})
    assert refused.status_code == 422
    assert "到期分钟数请填写 0 到 100000 之间的整数" in refused.text
    assert ops.get("/ops/cases", params={"sandbox": "no-such"}).status_code == 422
    assert ops.get("/ops/cases", params={"cursor": "garbage"}).status_code == 422


def test_the_case_export_is_utf8_with_bom_and_headings_in_the_pages_language(
    world: World,  # noqa: F811
    cases: dict[str, str],
) -> None:
    _, app = world
    ops = _client(app, "ops")
    export = ops.get("/ops/cases.csv", params={"sandbox": SANDBOX})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = _rows(export)
    head, body = rows[0], rows[1:]
    assert head[:4] == ["服务单号", "数据范围", "服务", "状态"]
    by_id = {row[0]: row for row in body}
    assert set(cases.values()) <= set(by_id)
    tiles = dict(zip(head, by_id[cases["tiles"]], strict=True))
    assert tiles["店铺"] == "世纪陶瓷旗舰店" and tiles["状态"] == "求助中（已指派）"
    assert tiles["买家"] == "买家 002" and tiles["商品行号"] == TILES
    english = ops.get("/ops/cases.csv", params={"sandbox": SANDBOX, "lang": "en"})
    assert _rows(english)[0][:4] == ["Case", "Data", "Programme", "State"]
    filtered = _rows(ops.get("/ops/cases.csv", params={"sandbox": SANDBOX, "q": cases["lamp"]}))
    assert [row[0] for row in filtered[1:]] == [cases["lamp"]]


def test_a_shops_export_never_holds_another_shops_case(
    world: World,  # noqa: F811
    cases: dict[str, str],
) -> None:
    _, app = world
    shop = _client(app, "shop")  # shop-guangming
    rows = _rows(shop.get("/partner.csv", params={"sandbox": SANDBOX}))
    head, body = rows[0], rows[1:]
    shops = {dict(zip(head, row, strict=True))["店铺编号"] for row in body}
    assert shops == {data.MERCHANT_GUANGMING}
    assert cases["lamp"] in {row[0] for row in body}
    assert cases["tiles"] not in {row[0] for row in body}
    # Asking for the other shop's case by id, or by its shop, finds nothing either.
    by_id = _rows(shop.get("/partner.csv", params={"sandbox": SANDBOX, "q": cases["tiles"]}))
    assert by_id[1:] == []
    brand = _client(app, "brand")  # brand-guangming: its products' cases only
    brand_rows = _rows(brand.get("/partner.csv", params={"sandbox": SANDBOX}))
    assert {dict(zip(brand_rows[0], r, strict=True))["品牌编号"] for r in brand_rows[1:]} == {
        data.BRAND_GUANGMING
    }


def test_payouts_are_listed_counted_and_exported_with_names(
    world: World,  # noqa: F811
    cases: dict[str, str],
) -> None:
    container, app = world
    advance_sandbox(container.services, SANDBOX, by=timedelta(minutes=61))  # OH-5 pays
    ops = _client(app, "ops")
    page = ops.get("/ops/payouts", params={"sandbox": SANDBOX})
    assert page.status_code == 200 and "5,000 积分" in page.text
    assert "光明灯饰官方旗舰店" in page.text  # the payer by its name
    assert 'data-total="0"' in ops.get("/ops/payouts").text  # live: none
    rows = _rows(ops.get("/ops/payouts.csv", params={"sandbox": SANDBOX}))
    head = rows[0]
    paid = [dict(zip(head, row, strict=True)) for row in rows[1:]]
    lamp = next(p for p in paid if p["服务单号"] == cases["lamp"])
    assert (lamp["规则"], lamp["数额"], lamp["单位"], lamp["折合人民币（元）"]) == (
        "OH-5",
        "5000",
        "积分",
        "50.00",
    )
    assert lamp["支付方"] == "光明灯饰官方旗舰店" and "OH-5" in lamp["原因"]
    shop_rows = _rows(_client(app, "shop").get("/partner/payouts.csv", params={"sandbox": SANDBOX}))
    assert {dict(zip(shop_rows[0], r, strict=True))["支付方编号"] for r in shop_rows[1:]} <= {
        data.MERCHANT_GUANGMING
    }


def test_the_breach_board_puts_the_nearest_deadline_first(
    world: World,  # noqa: F811
    cases: dict[str, str],
) -> None:
    _, app = world
    board = _client(app, "ops").get("/ops/breaching", params={"sandbox": SANDBOX})
    assert board.status_code == 200
    lefts = [int(v) for v in re.findall(r'data-left="(-?\d+)"', board.text)]
    assert lefts and lefts == sorted(lefts)
    assert "48 小时内解决" in board.text or "1 小时内给出解决方案" in board.text


def test_the_partner_page_pages_counts_and_charts_its_own_cases(
    world: World,  # noqa: F811
    cases: dict[str, str],
) -> None:
    _, app = world
    page = _client(app, "shop").get("/partner", params={"sandbox": SANDBOX})
    assert page.status_code == 200
    assert cases["lamp"] in page.text and cases["tiles"] not in page.text
    assert re.search(r'data-total="\d+"', page.text)
    assert 'class="bars"' in page.text  # the compliance chart, drawn without a script
    assert "杭州安装服务站" in page.text  # the provider by its name
    english = _client(app, "shop").get("/partner", params={"sandbox": SANDBOX, "lang": "en"})
    assert "My cases" in english.text and "merchant" in english.text


def test_a_blank_complaint_is_refused_in_words_and_a_filed_one_is_decided_beside_its_case(
    world: World,  # noqa: F811
    cases: dict[str, str],
) -> None:
    container, app = world
    buyer = _client(app, "buyer")
    blank = buyer.post(
        f"/cases/{cases['lamp']}/complaints",
        data={"clock_id": "resolution", "complaint_text": "  ", "csrf_token": "csrf-buyer"},
        follow_redirects=False,
    )
    assert blank.status_code == 422 and "请填写投诉内容" in blank.text
    form = blank.text[blank.text.index('id="complaint-form"') :].split("</form>", 1)[0]
    assert 'id="complaint-error"' in form  # beside the field, the case page drawn again
    assert '<option value="resolution" selected>' in form
    assert svc.get_case(container.services, cases["lamp"]).complaints == []
    # NW-7: the kettle goes to the brand, nothing is heard for 30 days, the buyer complains.
    form = Actor(Role.CONSUMER, "buyer-006", Channel.SERVICE_FORM)
    kettle = svc.report_repair(
        container.services, order_item_id=KETTLE, actor=form, description="烧水时跳闸"
    ).case.id
    svc.add_attachment(
        container.services,
        data=PNG,
        filename="插座.png",
        declared_type="image/png",
        actor=form,
        case_id=kettle,
    )
    brand = Actor(Role.BRAND, data.BRAND_XINGHE, Channel.WEB)
    svc.act(container.services, kettle, "accept", brand, "请寄回检测")
    svc.act(container.services, kettle, "receive_item", brand)
    advance_sandbox(container.services, SANDBOX, by=timedelta(days=31))
    complaint = svc.file_complaint(container.services, kettle, "feedback", form, "一个月没消息")
    ops = _client(app, "ops")
    page = ops.get("/ops/complaints")
    assert page.status_code == 200
    card = page.text[page.text.index(f'data-complaint="{complaint.id}"') :]
    assert "一个月没消息" in card
    assert "受理寄修后 30 天内反馈" in card and "已违约" in card  # the clock beside it (NW-5)
    assert "品牌 星河电器 受理了报修" in card  # the history as sentences, by name
    assert f'<img src="/api/v1/cases/{kettle}/attachments/' in card  # the photo, as a thumbnail
    assert "NW-7" in card
    decided = ops.post(
        f"/cases/{kettle}/complaints/{complaint.id}/decide",
        data={"uphold": "yes", "note": "平台上没有反馈记录", "csrf_token": "csrf-ops"},
        follow_redirects=False,
    )
    assert decided.status_code == 303
    assert svc.get_case(container.services, kettle).complaints[0].status == "upheld"
    assert complaint.id not in ops.get("/ops/complaints").text
