"""SS-2 visit windows and bookings in memory: the ``Appointments`` port for service tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, datetime

from aftersales.adapters.memory.state import MemoryStore, Tables, utc
from aftersales.domain.dispatch import days_closed
from aftersales.domain.slots import WindowKey
from aftersales.services.records import AppointmentChange, AppointmentRecord, ProviderWindows


class MemoryAppointments:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def _t(self) -> Tables:
        return self.store.tables

    def windows_of(self, provider_id: str) -> ProviderWindows | None:
        p = self._t.providers.get(provider_id)
        if p is None:
            return None
        return ProviderWindows(provider_id, p.name, p.calendar, p.windows, p.sandbox)

    def lock_provider(self, provider_id: str) -> None:
        return None  # units of work on one store run one at a time (the store's lock)

    def _between(
        self, provider_id: str, sandbox: str, first: datetime, last: datetime
    ) -> list[AppointmentRecord]:
        return [
            a
            for a in self._t.appointments.values()
            if a.provider_id == provider_id
            and a.sandbox == sandbox
            and first <= a.starts_at <= last
        ]

    def booked_counts(
        self, provider_id: str, sandbox: str, first: datetime, last: datetime
    ) -> dict[WindowKey, int]:
        found = self._between(provider_id, sandbox, first, last)
        return dict(Counter((a.starts_at, a.ends_at) for a in found))

    def closed_days(self, provider_id: str, first: date, last: date) -> frozenset[date]:
        return days_closed(self._t.closures.get(provider_id, ()), first, last)

    def of_case(self, case_id: str) -> AppointmentRecord | None:
        return self._t.appointments.get(case_id)

    def book(self, record: AppointmentRecord, change: AppointmentChange) -> None:
        self._t.appointments[record.case_id] = replace(
            record,
            starts_at=utc(record.starts_at),
            ends_at=utc(record.ends_at),
            booked_at=utc(record.booked_at),
        )
        before = None if change.before is None else utc(change.before)
        self._t.appointment_changes.setdefault(change.case_id, []).append(
            replace(
                change,
                at=utc(change.at),
                starts_at=utc(change.starts_at),
                ends_at=utc(change.ends_at),
                before=before,
            )
        )

    def changes_of(self, case_id: str) -> list[AppointmentChange]:
        return list(self._t.appointment_changes.get(case_id, []))

    def of_provider(
        self, provider_id: str, sandbox: str, first: datetime, last: datetime
    ) -> list[AppointmentRecord]:
        found = self._between(provider_id, sandbox, first, last)
        return sorted(found, key=lambda a: (a.starts_at, a.case_id))
