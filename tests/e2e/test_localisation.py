"""Every page, for every role, in both languages: nothing untranslated, no raw codes.

The pages are found the way a person finds them: each role signs in and follows
every same-site link from its start page (and from the pages those lead to),
after a morning's work has put something on each of them — a help request that
was paid out, a repair report with a photo, a complaint, an import. Each page is
read in Chinese and in English, and what a person sees on it (text, button
labels, placeholders, titles, alt texts) is checked:

* on a Chinese page, no Latin-script word that is not data (an id, a name or an
  address from the marketplace's records, a text someone typed), a literal in
  ``<code>``, or in the short list of terms Chinese screens use as they are (CSV,
  API, the kinds an import file names);
* on an English page, no Chinese that is not data;
* on either, no raw code: no enum value with an underscore anywhere, and no
  element whose whole text is an enum value (``<td>resolved</td>``).

The crawl must reach every HTML page the web application has (the test lists
any it did not), so a page added later is checked without anyone remembering to.
"""

from __future__ import annotations

import enum
import importlib
import json
import pkgutil
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Match, Mount

import aftersales.domain
from aftersales.bootstrap import Container, bootstrap
from aftersales.demo import dataset as data
from aftersales.demo.setup import create_demo_sandbox
from aftersales.entrypoints.web import mount_web
from aftersales.entrypoints.web.i18n import LANG_COOKIE
from aftersales.services.imports import FILE_KINDS
from aftersales.services.sandboxes import advance_sandbox
from aftersales.services.time import FixedClock
from aftersales.settings import Settings
from tests.e2e.test_web_pages import PNG, SANDBOX, TEN_AM, VIEWERS, FakeAuth

LAMP = f"{SANDBOX}.{data.ITEM_LAMP_HANGZHOU}"
KETTLE = f"{SANDBOX}.{data.ITEM_KETTLE_SHANGHAI}"
ROLES = {  # accounts of each role, as VIEWERS names them
    "consumer": "buyer",
    "consumer (national warranty)": "kettle-buyer",
    "provider": "installer",
    "merchant": "shop",
    "brand": "brand",
    "agent": "agent",
    "operations": "ops",
}
MAX_PAGES_PER_ROLE = 120
# Words Chinese screens show as they are.
LATIN_ON_CHINESE_PAGES = frozenset(
    {"API", "CSV", "ID", "URL", "JSON", "NDJSON", "UTF", "BOM", "Excel", "SLA", "English"}
)
# An import's kinds are the literal names its files and lines carry (products.csv, "kind").
LATIN_ON_CHINESE_PAGES |= {k for kind in FILE_KINDS for k in kind.split("_")} | {"kind"}
CHINESE_ON_ENGLISH_PAGES = frozenset({"中文"})  # the switch to Chinese names itself in Chinese
# Paths that are not pages: files, the API and its docs, the language switch, leaving.
NOT_PAGES = ("/static/", "/api/", "/docs", "/redoc", "/openapi.json", "/lang/", "/logout")
# Downloads and the data pages poll (their headings are checked by their own tests).
NOT_PAGE_SUFFIXES = (".csv", ".json")
TYPED = (
    "灯不亮了",
    "安装师傅没有按约定时间上门",
    "The kettle stopped heating",
    "上海市浦东新区世纪大道 100 号 8 楼",
    "请问水壶保修多久",
)


# ---------------------------------------------------------------- what a person sees


class _Visible(HTMLParser):
    """The visible text of a page: text outside script/style/template, and the
    attributes people read (alt, title, placeholder, aria-label, button values)."""

    # <code> holds literal values a person types (a file name, a field), not words.
    SKIP = frozenset({"script", "style", "template", "noscript", "code"})
    ATTRIBUTES = ("alt", "title", "placeholder", "aria-label")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []  # every run of text and every read attribute
        self.whole: list[str] = []  # the whole text of each leaf element
        self._skipping = 0
        self._leaf: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1
            return
        values = dict(attrs)
        for name in self.ATTRIBUTES:
            if values.get(name):
                self.texts.append(str(values[name]))
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.texts.append(str(values["value"]))
        self._leaf = []

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skipping = max(0, self._skipping - 1)
            return
        if self._leaf is not None:
            whole = " ".join(self._leaf).strip()
            if whole:
                self.whole.append(whole)
        self._leaf = None

    def handle_data(self, text: str) -> None:
        if self._skipping or not text.strip():
            return
        self.texts.append(text)
        if self._leaf is not None:
            self._leaf.append(text.strip())


def visible(html: str) -> _Visible:
    parser = _Visible()
    parser.feed(html)
    parser.close()
    return parser


# ---------------------------------------------------------------- what counts as data


@dataclass
class Data:
    """Words that come from records, not from the interface: allowed in either language."""

    latin: set[str] = field(default_factory=set)
    chinese: set[str] = field(default_factory=set)

    def add(self, value: str) -> None:
        self.latin.update(w.lower() for w in _LATIN.findall(value))
        self.chinese.update(_CHINESE.findall(value))

    def chinese_is_data(self, run: str) -> bool:
        return run in self.chinese or any(run in known for known in self.chinese)


_LATIN = re.compile(r"[A-Za-z][A-Za-z'’]*")
_CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_ID_LIKE = re.compile(r"[A-Za-z0-9]+(?:[-_.:/][A-Za-z0-9]+)+")  # buyer-001, web.item-lamp-hz


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def demo_data() -> Data:
    found = Data()
    folder = Path(data.__file__).parent / "data"
    for path in sorted(folder.glob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                for text in _strings(json.loads(line)):
                    found.add(text)
    for viewer in VIEWERS.values():
        found.add(viewer.name)
    for typed in TYPED:
        found.add(typed)
    found.add(SANDBOX)  # sandboxes are named by whoever makes them
    return found


def enum_values() -> frozenset[str]:
    """Every value of every string enum of the domain: what a page must not show raw."""
    values: set[str] = set()
    for module in pkgutil.iter_modules(aftersales.domain.__path__):
        loaded = importlib.import_module(f"aftersales.domain.{module.name}")
        for thing in vars(loaded).values():
            if isinstance(thing, type) and issubclass(thing, enum.Enum) and thing is not enum.Enum:
                values.update(str(m.value) for m in thing if isinstance(m.value, str))
    return frozenset(values)


# ---------------------------------------------------------------- the checks


def problems_on(page: str, lang: str, html: str, known: Data, codes: frozenset[str]) -> list[str]:
    seen = visible(html)
    found: list[str] = []
    for text in seen.texts:
        without_ids = _ID_LIKE.sub(" ", text)
        for code in codes:
            if "_" in code and re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text):
                found.append(f"{page} [{lang}]: raw code {code!r} in {text.strip()[:80]!r}")
        if lang == "zh":
            for word in _LATIN.findall(without_ids):
                if word in LATIN_ON_CHINESE_PAGES or word.lower() in known.latin:
                    continue
                if len(word) == 1:  # a unit or a label letter (T 恤, 5 h)
                    continue
                found.append(f"{page} [zh]: English word {word!r} in {text.strip()[:80]!r}")
        else:
            for run in _CHINESE.findall(text):
                if run not in CHINESE_ON_ENGLISH_PAGES and not known.chinese_is_data(run):
                    found.append(f"{page} [en]: Chinese {run!r} in {text.strip()[:80]!r}")
    for whole in seen.whole:
        if whole in codes and whole.lower() not in known.latin:
            found.append(f"{page} [{lang}]: an element shows the raw code {whole!r}")
    return found


# ---------------------------------------------------------------- the morning's work


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Container, FastAPI]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("localisation"))
    container = bootstrap(settings, clock=FixedClock(TEN_AM))
    create_demo_sandbox(container, SANDBOX, start=TEN_AM)
    app = FastAPI()
    mount_web(app, container, FakeAuth())
    buyer = _signed_in(app, "buyer")
    helped = buyer.post(
        f"/items/{LAMP}/help",
        data={"failure": "installation_late", "csrf_token": VIEWERS["buyer"].csrf_token},
        follow_redirects=False,
    )
    assert helped.status_code == 303, helped.text
    kettle_buyer = _signed_in(app, "kettle-buyer")
    reported = kettle_buyer.post(
        f"/items/{KETTLE}/repair",
        data={
            "description": TYPED[0],
            "phone": "13800000006",
            "address": TYPED[3],
            "csrf_token": VIEWERS["kettle-buyer"].csrf_token,
        },
        files={"photos": ("kettle.png", PNG, "image/png")},
        follow_redirects=False,
    )
    assert reported.status_code == 303, reported.text
    chatted = kettle_buyer.post(
        f"/items/{KETTLE}/chat",
        data={"text": TYPED[4], "csrf_token": VIEWERS["kettle-buyer"].csrf_token},
        follow_redirects=False,
    )
    assert chatted.status_code == 303, chatted.text
    advance_sandbox(container.services, SANDBOX, by=timedelta(minutes=61))  # OH-5 pays out
    case_id = helped.headers["location"].rsplit("/", 1)[-1]
    complained = buyer.post(
        f"/cases/{case_id}/complaints",
        data={"complaint_text": TYPED[1], "csrf_token": VIEWERS["buyer"].csrf_token},
        follow_redirects=False,
    )
    assert complained.status_code in (303, 422), complained.text
    ops = _signed_in(app, "ops")
    imported = ops.post(
        "/ops/imports",
        data={"csrf_token": VIEWERS["ops"].csrf_token, "dry_run": "on"},
        files={"file": ("merchants.csv", b"id,name\nshop-new,New Shop\n", "text/csv")},
        follow_redirects=False,
    )
    assert imported.status_code == 303, imported.text
    yield container, app
    container.close()


def _signed_in(app: FastAPI, who: str, lang: str = "zh") -> TestClient:
    client = TestClient(app)
    answer = client.post("/login", data={"username": who, "password": "pw"}, follow_redirects=False)
    assert answer.status_code == 303
    client.cookies.set(LANG_COOKIE, lang)
    return client


# ---------------------------------------------------------------- the crawl


def _api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """The application's routes, with those of included routers among them."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI's wrapper of an included router
            yield from _api_routes(route.original_router.routes)
        elif not isinstance(route, Mount) and hasattr(route, "routes"):
            yield from _api_routes(route.routes)


def _html_pages(app: FastAPI) -> dict[str, APIRoute]:
    return {
        route.path_format: route
        for route in _api_routes(app.routes)
        if "GET" in route.methods
        and not any(route.path_format.startswith(p) for p in NOT_PAGES)
        and not route.path_format.endswith(NOT_PAGE_SUFFIXES)
    }


def _route_of(app: FastAPI, path: str) -> str | None:
    scope = {"type": "http", "path": path, "root_path": "", "method": "GET"}
    for route in _api_routes(app.routes):
        matched, _ = route.matches(scope)
        if matched is Match.FULL and "GET" in route.methods:
            return route.path_format
    return None


# Links, and the fragments a page fetches into itself (htmx).
_HREF = re.compile(r'(?:href|hx-get)="(/[^"#]*)"')


def crawl(app: FastAPI, who: str) -> dict[str, str]:
    """Every page ``who`` can reach from its start page by links: path -> route."""
    client = _signed_in(app, who)
    start = client.get("/", follow_redirects=True)
    assert start.status_code == 200
    queue = [urlsplit(str(start.url)).path]
    reached: dict[str, str] = {}
    routes_seen: dict[str, int] = {}
    while queue and len(reached) < MAX_PAGES_PER_ROLE:
        path = queue.pop(0)
        if path in reached or any(path.startswith(p) for p in NOT_PAGES):
            continue
        route = _route_of(app, urlsplit(path).path)
        if route is None:
            continue
        # A few of each kind of page (three cases, not all of them).
        if routes_seen.get(route, 0) >= 3:
            continue
        answer = client.get(path, follow_redirects=False)
        if answer.status_code != 200 or "text/html" not in answer.headers.get("content-type", ""):
            continue
        reached[path] = route
        routes_seen[route] = routes_seen.get(route, 0) + 1
        for link in _HREF.findall(answer.text):
            link = link.replace("&amp;", "&")
            if link not in reached:
                queue.append(link)
    return reached


@pytest.fixture(scope="module")
def reached(world: tuple[Container, FastAPI]) -> dict[str, dict[str, str]]:
    _, app = world
    return {role: crawl(app, who) for role, who in ROLES.items()}


def test_the_crawl_reaches_every_page_of_the_web_application(
    world: tuple[Container, FastAPI], reached: dict[str, dict[str, str]]
) -> None:
    _, app = world
    visited = {route for pages in reached.values() for route in pages.values()}
    # "/" only redirects to each role's start page; "/login" is read signed out below.
    missing = set(_html_pages(app)) - visited - {"/", "/login"}
    assert missing == set(), f"no role reached these pages by a link: {sorted(missing)}"
    for role, pages in reached.items():
        assert pages, f"{role} reached no page"


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_speaks_the_viewers_language_without_raw_codes(
    world: tuple[Container, FastAPI],
    reached: dict[str, dict[str, str]],
    role: str,
    lang: str,
) -> None:
    _, app = world
    known, codes = demo_data(), enum_values()
    client = _signed_in(app, ROLES[role], lang)
    found: list[str] = []
    for path in reached[role]:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        found += problems_on(path, lang, answer.text, known, codes)
    assert found == [], "\n".join(sorted(set(found)))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_sign_in_page_and_a_refusal_speak_the_viewers_language(
    world: tuple[Container, FastAPI], lang: str
) -> None:
    _, app = world
    known, codes = demo_data(), enum_values()
    client = TestClient(app)
    client.cookies.set(LANG_COOKIE, lang)
    found = problems_on("/login", lang, client.get("/login").text, known, codes)
    buyer = _signed_in(app, "buyer", lang)
    refused = buyer.get("/ops")
    assert refused.status_code == 403
    found += problems_on("/ops (refused)", lang, refused.text, known, codes)
    missing = buyer.get("/cases/no-such-case")
    assert missing.status_code == 404
    found += problems_on("/cases/no-such-case", lang, missing.text, known, codes)
    assert found == [], "\n".join(sorted(set(found)))


def test_the_checks_catch_what_they_are_for() -> None:
    """The detector itself: each kind of mistake is found, data is let through."""
    known, codes = Data(), frozenset({"resolved", "installation_late"})
    known.add("光明旗舰店 LED 吸顶灯")
    assert problems_on("/p", "zh", "<p>Save 光明旗舰店</p>", known, codes)
    assert not problems_on("/p", "zh", "<p>光明旗舰店 LED 吸顶灯 buyer-001 OH-4</p>", known, codes)
    assert problems_on("/p", "en", "<p>保存</p>", known, codes)
    assert not problems_on("/p", "en", "<p>Shop: 光明旗舰店</p>", known, codes)
    assert problems_on("/p", "en", "<td>resolved</td>", known, codes)
    assert problems_on("/p", "en", "<p>failure: installation_late</p>", known, codes)
    assert not problems_on("/p", "en", "<p>It was resolved today.</p>", known, codes)
    assert not problems_on("/p", "zh", "<script>var x = 'Save';</script><p>好</p>", known, codes)
    assert problems_on("/p", "zh", '<input placeholder="Search">', known, codes)
