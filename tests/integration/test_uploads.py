"""Uploads never leak, on SQLite and PostgreSQL: a refused repair form or upload writes
no file and no row; an accepted one keeps its files with its rows, in one transaction; a
transaction that fails takes its new files with it; the sweep removes what a crash left
(staged files, files no row points at) and keeps what rows point at; names are cleaned of
bidirectional and control characters; only photos are shown inline."""

from __future__ import annotations

import base64
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from aftersales.adapters.db import schema as s
from aftersales.bootstrap import Container, bootstrap
from aftersales.demo import dataset as data
from aftersales.demo.setup import DEMO_PASSWORDS, create_demo_sandbox
from aftersales.domain.cases import Actor
from aftersales.domain.lifecycle import Channel, Role
from aftersales.entrypoints.api.app import create_app
from aftersales.services import accounts
from aftersales.services import cases as svc_cases
from aftersales.services.attachments import sweep_files
from aftersales.services.time import FixedClock
from aftersales.settings import Settings

TEN_AM = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SB = "up"
KETTLE = f"{SB}.{data.ITEM_KETTLE_SHANGHAI}"  # buyer-006's national-warranty kettle
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog /OpenAction <</S /JavaScript /JS (app.alert(1))>> >>\n%%EOF"
DAY = 24 * 3600


def photo(n: int, size: int) -> bytes:
    """A distinct PNG-typed file of ``size`` bytes (distinct: content addresses differ)."""
    head = PNG[:16] + n.to_bytes(4, "big")
    return head + b"\x00" * (size - len(head))


@dataclass
class World:
    container: Container
    client: TestClient
    root: Path

    def files(self) -> list[Path]:
        return [p for p in self.root.rglob("*") if p.is_file()] if self.root.exists() else []

    def rows(self, table: str = "attachments") -> int:
        with self.container.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(s.metadata.tables[table])
                ).scalar_one()
            )

    def sign_in(self, username: str, role: Role) -> str:
        accounts.ensure_account(
            self.container.services,
            username=username,
            password=DEMO_PASSWORDS[role],
            role=role,
            party=username if role is Role.CONSUMER else None,
        )
        answer = self.client.post(
            "/login",
            data={"username": username, "password": DEMO_PASSWORDS[role]},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        page = self.client.get(f"/items/{KETTLE}/repair").text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found, page[:500]
        return found.group(1)

    def bearer(self, username: str, role: Role) -> dict[str, str]:
        accounts.ensure_account(
            self.container.services, username=username, password=DEMO_PASSWORDS[role], role=role
        )
        made = accounts.create_api_token(self.container.services, username=username, name="t")
        return {"Authorization": f"Bearer {made.token}"}


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        attachment_max_bytes=3_000_000,
        attachment_max_per_report=8,
        attachment_max_total_bytes=20_000_000,
    )
    container = bootstrap(settings, clock=FixedClock(TEN_AM), migrate=True)
    create_demo_sandbox(container, SB, start=TEN_AM)
    try:
        yield World(container, TestClient(create_app(container)), settings.attachments_dir)
    finally:
        container.close()


def repair(world: World, csrf: str, photos: list[tuple[str, bytes]], **fields: str):  # type: ignore[no-untyped-def]
    form = {
        "description": "加热后自动断电",
        "phone": "138 0000 0006",
        "address": "上海市浦东新区世纪大道 100 号 8 楼",
        "csrf_token": csrf,
        **fields,
    }
    return world.client.post(
        f"/items/{KETTLE}/repair?lang=en",
        data=form,
        files=[("photos", (name, content, "image/png")) for name, content in photos],
        follow_redirects=False,
    )


def test_a_refused_repair_form_with_eight_large_photos_leaves_no_file_and_no_row(
    world: World,
) -> None:
    csrf = world.sign_in("buyer-006", Role.CONSUMER)
    cases_before = world.rows("cases")
    photos = [(f"p{n}.png", photo(n, 2_000_000)) for n in range(8)]
    answer = repair(world, csrf, photos, phone="12345")
    assert answer.status_code == 422
    assert "not a phone number we can call" in answer.text
    assert world.files() == []  # not 16 MB of orphans
    assert world.rows() == 0 and world.rows("cases") == cases_before


def test_more_photos_than_a_report_takes_are_refused_naming_the_limit(world: World) -> None:
    csrf = world.sign_in("buyer-006", Role.CONSUMER)
    answer = repair(world, csrf, [(f"p{n}.png", photo(n, 1000)) for n in range(9)])
    assert answer.status_code == 422
    error = answer.text.split('id="photos-error"', 1)[1].split("</p>", 1)[0]
    assert "at most 8 files" in error and "9 were chosen" in error
    assert world.files() == [] and world.rows() == 0


def test_photos_over_the_total_a_report_takes_are_refused_with_the_real_figures(
    world: World,
) -> None:
    csrf = world.sign_in("buyer-006", Role.CONSUMER)
    photos = [(f"p{n}.png", photo(n, 2_900_000)) for n in range(7)]  # 20.3 MB together
    answer = repair(world, csrf, photos)
    assert answer.status_code == 422
    error = answer.text.split('id="photos-error"', 1)[1].split("</p>", 1)[0]
    assert "20.3 MB" in error and "20 MB" in error
    assert world.files() == [] and world.rows() == 0


def test_one_bad_photo_refuses_the_form_and_none_of_the_good_ones_is_written(
    world: World,
) -> None:
    csrf = world.sign_in("buyer-006", Role.CONSUMER)
    photos = [("good.png", photo(1, 5000)), ("virus.exe", b"MZ\x90\x00 not a photo")]
    answer = repair(world, csrf, photos)
    assert answer.status_code == 422 and "virus.exe" in answer.text
    assert world.files() == [] and world.rows() == 0


def test_an_accepted_form_keeps_each_photo_with_its_row_in_the_case(world: World) -> None:
    csrf = world.sign_in("buyer-006", Role.CONSUMER)
    answer = repair(world, csrf, [(f"p{n}.png", photo(n, 5000)) for n in range(3)])
    assert answer.status_code == 303, answer.text
    assert world.rows() == 3
    stored = [p for p in world.files() if "staging" not in p.parts]
    assert len(stored) == 3 and not [p for p in world.files() if "staging" in p.parts]


def test_an_api_upload_of_a_file_that_is_not_accepted_writes_nothing(world: World) -> None:
    headers = world.bearer("ops", Role.OPERATIONS)
    case_id = _case(world)
    answer = world.client.post(
        f"/api/v1/cases/{case_id}/attachments",
        headers=headers,
        files={"file": ("setup.exe", b"MZ\x90\x00" * 100, "application/octet-stream")},
    )
    assert 400 <= answer.status_code < 500
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert world.files() == [] and world.rows() == 0


def test_a_transaction_that_is_not_committed_takes_the_files_it_wrote_with_it(
    world: World,
) -> None:
    case_id = _case(world)
    with pytest.raises(RuntimeError, match="after the upload"):
        _upload_then_fail(world, case_id, photo(7, 4000), files_seen=1)
    assert world.files() == [] and world.rows() == 0


def test_a_file_already_kept_for_another_row_stays_when_a_second_upload_of_it_fails(
    world: World,
) -> None:
    case_id = _case(world)
    svc = world.container.services
    kept = svc_cases.add_attachment(
        svc,
        data=photo(8, 4000),
        filename="a.png",
        declared_type="image/png",
        actor=_ops(),
        case_id=case_id,
    )
    with pytest.raises(RuntimeError, match="after the upload"):
        _upload_then_fail(world, case_id, photo(8, 4000), files_seen=1)
    assert world.container.services.files is not None
    assert world.container.services.files.open(kept.storage_key) == photo(8, 4000)


def test_the_sweep_removes_old_staged_and_unreferenced_files_and_keeps_the_rest(
    world: World,
) -> None:
    case_id = _case(world)
    svc = world.container.services
    kept = svc_cases.add_attachment(
        svc,
        data=photo(1, 3000),
        filename="kept.png",
        declared_type="image/png",
        actor=_ops(),
        case_id=case_id,
    )
    staged = world.root / "staging" / "tmp123.part"
    staged.parent.mkdir(parents=True, exist_ok=True)
    staged.write_bytes(b"half a photo")
    orphan = world.root / "ab" / ("ab" + "0" * 62)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"x" * 100)
    young_orphan = world.root / "cd" / ("cd" + "0" * 62)
    young_orphan.parent.mkdir(parents=True, exist_ok=True)
    young_orphan.write_bytes(b"y" * 10)  # could be a transaction still open: kept
    old = time.time() - 2 * DAY
    for path in (staged, orphan, world.root / kept.storage_key):
        os.utime(path, (old, old))

    swept = sweep_files(svc)

    assert (swept.staged, swept.orphans, swept.bytes) == (1, 1, len(b"half a photo") + 100)
    assert not staged.exists() and not orphan.exists()
    assert young_orphan.exists() and (world.root / kept.storage_key).exists()
    assert sweep_files(svc).orphans == 0  # nothing more to do


def test_the_sweep_command_says_what_it_removed(world: World, database_url: str) -> None:
    from typer.testing import CliRunner

    from aftersales.entrypoints.cli import app

    orphan = world.root / "ef" / ("ef" + "0" * 62)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"z" * 42)
    old = time.time() - 3 * DAY
    os.utime(orphan, (old, old))
    args = ["attachments", "sweep", "--data-dir", str(world.root.parent)]
    result = CliRunner().invoke(app, [*args, "--database-url", database_url])
    assert result.exit_code == 0, result.output
    assert "removed 0 staged and 1 unreferenced files (42 bytes)" in result.output
    assert not orphan.exists()
    too_soon = CliRunner().invoke(app, [*args, "--older-than", "5m"])
    assert too_soon.exit_code == 2 and "at least 1h" in too_soon.output


def test_a_name_with_bidirectional_and_control_characters_is_kept_and_shown_cleaned(
    world: World,
) -> None:
    headers = world.bearer("ops", Role.OPERATIONS)
    case_id = _case(world)
    answer = world.client.post(
        f"/api/v1/cases/{case_id}/attachments",
        headers=headers,
        files={"file": ("photo\u202egpj.exe", PNG, "image/png")},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["filename"] == "photogpj.exe"
    listed = world.client.get(f"/api/v1/cases/{case_id}/attachments", headers=headers).json()
    assert [a["filename"] for a in listed] == ["photogpj.exe"]
    served = world.client.get(
        f"/api/v1/cases/{case_id}/attachments/{listed[0]['id']}", headers=headers
    )
    assert "\u202e" not in served.headers["content-disposition"]
    assert "%E2%80%AE" not in served.headers["content-disposition"]
    world.sign_in("buyer-006", Role.CONSUMER)
    page = world.client.get(f"/cases/{case_id}").text
    assert "photogpj.exe" in page and "\u202e" not in page  # the buyer's case page


def test_a_pdf_is_served_as_a_download_and_a_photo_inline_both_with_nosniff(
    world: World,
) -> None:
    headers = world.bearer("ops", Role.OPERATIONS)
    case_id = _case(world)
    ids = {}
    for name, content, kind in (
        ("receipt.pdf", PDF, "application/pdf"),
        ("p.png", PNG, "image/png"),
    ):
        made = world.client.post(
            f"/api/v1/cases/{case_id}/attachments",
            headers=headers,
            files={"file": (name, content, kind)},
        )
        assert made.status_code == 201, made.text
        ids[name] = made.json()["id"]
    pdf = world.client.get(
        f"/api/v1/cases/{case_id}/attachments/{ids['receipt.pdf']}", headers=headers
    )
    assert pdf.headers["content-disposition"].startswith("attachment;")
    assert 'filename="receipt.pdf"' in pdf.headers["content-disposition"]
    assert pdf.headers["x-content-type-options"] == "nosniff"
    png = world.client.get(f"/api/v1/cases/{case_id}/attachments/{ids['p.png']}", headers=headers)
    assert png.headers["content-disposition"].startswith("inline;")
    assert png.headers["x-content-type-options"] == "nosniff"


def _upload_then_fail(world: World, case_id: str, content: bytes, *, files_seen: int) -> None:
    """Attach ``content`` inside a transaction that then fails before it commits."""
    svc = world.container.services
    with svc.uow():
        svc_cases.add_attachment(
            svc,
            data=content,
            filename="x.png",
            declared_type="image/png",
            actor=_ops(),
            case_id=case_id,
        )
        assert len(world.files()) == files_seen  # the file is written inside the transaction
        raise RuntimeError("something failed after the upload")


def _ops() -> Actor:
    return Actor(Role.OPERATIONS, "ops", Channel.API)


def _case(world: World) -> str:
    return svc_cases.report_repair(
        world.container.services,
        order_item_id=KETTLE,
        actor=Actor(Role.CONSUMER, "buyer-006", Channel.SERVICE_FORM),
        description="不加热",
    ).case.id


def test_the_worker_sweeps_as_one_of_its_loops(world: World) -> None:
    import threading

    from aftersales.worker.loop import build_worker
    from aftersales.worker.sweep import SweepLoop

    loops = build_worker(world.container, stop=threading.Event())
    assert isinstance(loops.sweep, SweepLoop)
    orphan = world.root / "aa" / ("aa" + "1" * 62)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left by a crash")
    old = time.time() - 2 * DAY
    os.utime(orphan, (old, old))
    assert loops.sweep.run_once().orphans == 1
    assert not orphan.exists()
