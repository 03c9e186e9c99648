"""Resolving free address text to province, city and district (OH-2)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from aftersales.adapters.addresses import AddressResolver, UnresolvableAddress
from aftersales.domain.eligibility import ServiceAddress
from aftersales.domain.policy import PolicyBook
from aftersales.errors import AftersalesError


@pytest.fixture(scope="module")
def resolver() -> AddressResolver:
    resolver = AddressResolver()
    resolver.warm_up()
    return resolver


@pytest.mark.parametrize(
    ("text", "province", "city", "district"),
    [
        ("浙江省杭州市西湖区文三路 90 号", "浙江省", "杭州市", "西湖区"),
        # Without the province, and the city without its 市.
        ("杭州西湖区文三路", "浙江省", "杭州市", "西湖区"),
        ("杭州", "浙江省", "杭州市", None),
        # Municipalities: the parser says 市辖区 (or nothing); the city is the municipality.
        ("北京市朝阳区建国路 88 号", "北京市", "北京市", "朝阳区"),
        ("上海浦东新区世纪大道 100 号", "上海市", "上海市", "浦东新区"),
        ("天津市和平区南京路 189 号", "天津市", "天津市", "和平区"),
        ("北京", "北京市", "北京市", None),
        # A municipality's county: the parser's city is 县.
        ("重庆市巫山县大昌镇", "重庆市", "重庆市", "巫山县"),
        # County-level text outside the covered cities (OH-2 refuses them, but they resolve).
        ("西藏自治区阿里地区噶尔县狮泉河镇", "西藏自治区", "阿里地区", "噶尔县"),
        ("新疆喀什地区疏附县托克扎克镇", "新疆维吾尔自治区", "喀什地区", "疏附县"),
        # A county-level city governed by its province directly is its own city.
        ("湖北省仙桃市沔城回族镇", "湖北省", "仙桃市", "仙桃市"),
        # Cities without districts, or a district the parser does not know.
        ("广东省东莞市南城街道鸿福路 106 号", "广东省", "东莞市", None),
        ("江苏苏州工业园区星湖街 328 号", "江苏省", "苏州市", None),
        # Another city's name in the street does not move the address there.
        ("西藏自治区拉萨市城关区北京中路 48 号", "西藏自治区", "拉萨市", "城关区"),
        ("吉林省吉林市船营区", "吉林省", "吉林市", "船营区"),
    ],
)
def test_resolves_province_city_and_district(
    resolver: AddressResolver, text: str, province: str, city: str, district: str | None
) -> None:
    resolved = resolver.resolve(text)
    assert (resolved.text, resolved.province, resolved.city, resolved.district) == (
        text,
        province,
        city,
        district,
    )


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("浙江省杭州市西湖区文三路 90 号", "330106"),  # the district
        ("北京市朝阳区建国路 88 号", "110105"),  # a municipality's district
        ("湖北省仙桃市沔城回族镇", "429004"),  # a county-level city under its province
        ("广东省东莞市南城街道鸿福路 106 号", "441900"),  # a city without districts
    ],
)
def test_gives_the_administrative_code_of_the_most_specific_part(
    resolver: AddressResolver, text: str, code: str
) -> None:
    assert resolver.resolve(text).area_code == code


def test_keeps_the_text_as_typed(resolver: AddressResolver) -> None:
    text = "  杭州西湖区文三路 90 号  "
    assert resolver.resolve(text).text == text


@pytest.mark.parametrize("text", ["随便写点什么", "浙江省", "Room 5, Main Street", "12345"])
def test_text_without_a_city_is_refused_with_what_to_give(
    resolver: AddressResolver, text: str
) -> None:
    with pytest.raises(UnresolvableAddress) as caught:
        resolver.resolve(text)
    error = caught.value
    assert isinstance(error, AftersalesError)
    assert error.text == text
    message = str(error)
    assert f"'{text}'" in message and f"“{text}”" in message  # quoted in both languages
    assert "province, city and district" in message
    assert "省、市、区" in message


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_refused(resolver: AddressResolver, text: str) -> None:
    with pytest.raises(UnresolvableAddress, match="empty") as caught:
        resolver.resolve(text)
    assert "省、市、区" in str(caught.value)


def test_long_text_is_shortened_in_the_message(resolver: AddressResolver) -> None:
    text = "某某小区" * 40
    with pytest.raises(UnresolvableAddress) as caught:
        resolver.resolve(text)
    assert caught.value.text == text
    assert text not in str(caught.value)
    assert text[:20] in str(caught.value) and "…" in str(caught.value)


def test_resolve_many_keeps_order_and_marks_failures(resolver: AddressResolver) -> None:
    texts = ["杭州西湖区文三路", "", "随便写点", "上海市徐汇区漕溪北路 1 号", "   "]
    results = resolver.resolve_many(texts)
    assert len(results) == len(texts)
    assert results[0] == resolver.resolve(texts[0])
    assert results[1] is None and results[2] is None and results[4] is None
    assert results[3] == ServiceAddress(texts[3], "上海市", "上海市", "徐汇区", "310104")


def test_resolve_many_takes_any_iterable(resolver: AddressResolver) -> None:
    assert resolver.resolve_many([]) == []
    assert resolver.resolve_many(t for t in ("北京",)) == [
        ServiceAddress("北京", "北京市", "北京市", None, "110000")
    ]


def test_district_hints_settle_a_shared_district_name() -> None:
    # 朝阳区 is a district of both 北京 and 长春; with only the district written
    # the parser guesses, and a hint makes the guess the caller's.
    hinted = AddressResolver(district_hints={"朝阳区": "110105"})
    assert hinted.resolve("朝阳区建国路 88 号").city == "北京市"
    other = AddressResolver(district_hints={"朝阳区": "220104"})
    assert other.resolve("朝阳区建国路 88 号").city == "长春市"


def test_threads_share_one_parser(
    resolver: AddressResolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [f"浙江省杭州市西湖区文三路 {n} 号" for n in range(50)]
    expected = resolver.resolve_many(texts)
    # As if nothing were loaded yet: the threads race for the first load.
    monkeypatch.setattr(AddressResolver, "_cpca", None)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: AddressResolver().resolve_many(texts), range(16)))
    assert all(r == expected for r in results)
    assert AddressResolver._cpca is not None


def test_every_covered_city_resolves_to_itself(resolver: AddressResolver, book: PolicyBook) -> None:
    """OH-2: an address in each covered city resolves to that city's name as the list spells it."""
    at = datetime(2026, 11, 24, 12, tzinfo=ZoneInfo("Asia/Shanghai"))
    version = book.city_lists["oh-cities"].in_force(at)
    assert version is not None and len(version.cities) > 100
    results = resolver.resolve_many(f"{city}人民路 1 号" for city in version.cities)
    wrong = [
        (city, r.city if r else None)
        for city, r in zip(version.cities, results, strict=True)
        if r is None or r.city != city
    ]
    assert wrong == []


def test_the_direct_parse_gives_what_the_parsers_table_gives(resolver: AddressResolver) -> None:
    """The resolver parses each text with cpca's own per-text function rather than through
    its pandas table (faster for a batch); both must say the same for every kind of text."""
    from aftersales.adapters import areas

    table = areas._table()
    texts = [
        "浙江省杭州市西湖区文三路 90 号",
        "杭州西湖区文三路",
        "北京",
        "重庆市巫山县大昌镇",
        "湖北省仙桃市沔城回族镇",
        "朝阳区建国路",
        "江苏苏州工业园区星湖街 328 号",
        "火星基地 1 号",
        "",
    ]
    # Every district of the table, written in full and without its province.
    for code, name in sorted(table.items())[::7]:
        if not code.endswith("00"):
            city = table.get(code[:4] + "00", "")
            texts.append(f"{table.get(code[:2] + '0000', '')}{city}{name}人民路 1 号")
            texts.append(f"{city}{name}")
    direct = resolver.resolve_many(texts)
    through_table = AddressResolver()
    parser = type(
        "WithoutDirectParse", (), {"transform": staticmethod(resolver._parser().transform)}
    )
    through_table._parser = lambda: parser  # type: ignore[method-assign]
    assert through_table.resolve_many(texts) == direct
    assert sum(place is not None for place in direct) > len(texts) * 0.9


def test_places_remember_texts_of_one_district_with_one_entry_for_the_place() -> None:
    from aftersales.adapters.places import ChinaPlaces

    places = ChinaPlaces()
    texts = [
        "浙江省杭州市西湖区文三路 90 号",
        "浙江省杭州市西湖区文一路 1 号",
        "上海市浦东新区世纪大道 100 号",
        "无处可寻",
    ]
    first = places.resolve_many(texts)
    assert [p.city if p else None for p in first] == ["杭州市", "杭州市", "上海市", None]
    assert places.resolve_many(list(reversed(texts))) == list(reversed(first))  # from memory
    known = places._known
    assert known[texts[0]] is known[texts[1]]  # one tuple for the district, however many texts
    assert known[texts[2]] is not known[texts[0]] and known[texts[3]] is None
