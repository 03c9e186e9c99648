"""Words of the appointment pages (SS-2): the buyer's visit window, the installer's days."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    "appointments.title": ("上门预约", "Visit appointment"),
    "appointments.booked": ("已约时段", "Booked window"),
    "appointments.none": ("尚未预约上门时段。", "No visit window booked yet."),
    "appointments.commitment": (
        "约定日当天 23:59:59 前须完成安装（SS-2）。",
        "Installation must be finished by 23:59:59 of the agreed day (SS-2).",
    ),
    "appointments.pick": ("选择上门时段", "Choose a visit window"),
    "appointments.book": ("预约此时段", "Book this window"),
    "appointments.reschedule": ("改约到此时段", "Move the visit to this window"),
    "appointments.left": ("余", "left"),
    "appointments.reschedules_left": ("剩余改约次数", "Reschedules left"),
    "appointments.reschedule_hint": (
        "改约视为买家原因，相应时限顺延（SS-2 豁免）。",
        "A reschedule counts as the buyer's request; the deadline moves with it (an SS-2 "
        "exemption).",
    ),
    "appointments.no_slots": (
        "服务方近期没有可预约的时段，请联系服务方。",
        "The provider has no window with room in the coming days; please contact them.",
    ),
    "appointments.slot_unreadable": (
        "请选择列表中的一个时段。",
        "Choose one of the windows in the list.",
    ),
    "appointments.slot_not_offered": (
        "该时段已约满或已不可预约，请另选一个。",
        "That window is full or no longer offered; choose another.",
    ),
    "appointments.refused": ("无法改约", "Cannot reschedule"),
    # the installer's day view
    "appointments.days_title": ("预约日程", "Appointments by day"),
    "appointments.days_link": ("查看预约日程", "Appointments by day"),
    "appointments.window": ("时段", "Window"),
    "appointments.capacity": ("容量", "Capacity"),
    "appointments.booked_count": ("已约", "Booked"),
    "appointments.cases": ("服务单", "Cases"),
    "appointments.closed_day": ("当日不上门（休息日）", "No visits that day (closed)"),
    "appointments.no_windows": (
        "尚未设置上门时段（由主数据的 appointment_windows 提供）。",
        "No visit windows set (they come with the provider's master data, appointment_windows).",
    ),
    "appointments.today": ("今天", "Today"),
}
