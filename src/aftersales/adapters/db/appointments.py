"""SS-2 visit windows and bookings in SQL: the ``Appointments`` port.

Windows are read from the provider's row (``providers.appointment_windows``, kept
by master data); bookings are one row per case in ``appointments``, counted per
window instance over the provider's index ``(provider_id, sandbox, starts_at)``,
and every booking or move is a row of ``appointment_changes``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, func, insert, select, update

from aftersales.adapters.db import schema as s
from aftersales.domain.dispatch import Closure, days_closed
from aftersales.domain.slots import WindowKey, windows_from_json
from aftersales.services.records import AppointmentChange, AppointmentRecord, ProviderWindows


class SqlAppointments:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def windows_of(self, provider_id: str) -> ProviderWindows | None:
        p = s.providers
        row = self.conn.execute(
            select(p.c.id, p.c.name, p.c.calendar, p.c.appointment_windows, p.c.sandbox).where(
                p.c.id == provider_id
            )
        ).first()
        if row is None:
            return None
        return ProviderWindows(
            row.id, row.name, row.calendar, windows_from_json(row.appointment_windows), row.sandbox
        )

    def lock_provider(self, provider_id: str) -> None:
        if self.conn.dialect.name == "postgresql":  # SQLite: BEGIN IMMEDIATE holds the writes
            p = s.providers
            self.conn.execute(select(p.c.id).where(p.c.id == provider_id).with_for_update())

    def booked_counts(
        self, provider_id: str, sandbox: str, first: datetime, last: datetime
    ) -> dict[WindowKey, int]:
        a = s.appointments
        query = (
            select(a.c.starts_at, a.c.ends_at, func.count().label("n"))
            .where(
                a.c.provider_id == provider_id,
                a.c.sandbox == sandbox,
                a.c.starts_at >= first,
                a.c.starts_at <= last,
            )
            .group_by(a.c.starts_at, a.c.ends_at)
        )
        return {(r.starts_at, r.ends_at): int(r.n) for r in self.conn.execute(query)}

    def closed_days(self, provider_id: str, first: date, last: date) -> frozenset[date]:
        c = s.provider_closures
        rows = self.conn.execute(
            select(c.c.first_day, c.c.last_day, c.c.reason).where(
                c.c.provider_id == provider_id, c.c.first_day <= last, c.c.last_day >= first
            )
        )
        return days_closed((Closure(*r) for r in rows), first, last)

    def of_case(self, case_id: str) -> AppointmentRecord | None:
        a = s.appointments
        row = self.conn.execute(select(a).where(a.c.case_id == case_id)).first()
        return None if row is None else AppointmentRecord(**dict(row._mapping))

    def book(self, record: AppointmentRecord, change: AppointmentChange) -> None:
        a = s.appointments
        values = dict(record.__dict__)
        done = self.conn.execute(
            update(a)
            .where(a.c.case_id == record.case_id)
            .values(**{k: v for k, v in values.items() if k != "case_id"})
        )
        if done.rowcount == 0:
            self.conn.execute(insert(a).values(**values))
        c = s.appointment_changes
        self.conn.execute(
            insert(c).values(
                case_id=change.case_id,
                at=change.at,
                starts_at=change.starts_at,
                ends_at=change.ends_at,
                before_starts_at=change.before,
                actor_role=change.actor_role,
                actor_id=change.actor_id,
            )
        )

    def changes_of(self, case_id: str) -> list[AppointmentChange]:
        c = s.appointment_changes
        rows = self.conn.execute(select(c).where(c.c.case_id == case_id).order_by(c.c.id))
        return [
            AppointmentChange(
                r.case_id,
                r.at,
                r.starts_at,
                r.ends_at,
                r.before_starts_at,
                r.actor_role,
                r.actor_id,
            )
            for r in rows
        ]

    def of_provider(
        self, provider_id: str, sandbox: str, first: datetime, last: datetime
    ) -> list[AppointmentRecord]:
        a = s.appointments
        rows = self.conn.execute(
            select(a)
            .where(
                a.c.provider_id == provider_id,
                a.c.sandbox == sandbox,
                a.c.starts_at >= first,
                a.c.starts_at <= last,
            )
            .order_by(a.c.starts_at, a.c.case_id)
        )
        return [AppointmentRecord(**dict(r._mapping)) for r in rows]
