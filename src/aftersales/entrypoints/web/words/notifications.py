"""Words of the notification centre (the nav badge, the list, the channel settings)."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    "notify.nav": ("通知", "Notifications"),
    "notify.title": ("通知中心", "Notifications"),
    "notify.unread": ("未读 {n} 条", "{n} unread"),
    "notify.total": ("共 {n} 条", "{n} in all"),
    "notify.empty": (
        "还没有通知。案件指派给您、时限快到或已逾期、赔付到账、投诉有结果时，会在这里告诉您。",
        "Nothing yet. You are told here when a case is assigned to you, a deadline is near or "
        "has passed, a payout reaches you, or a complaint is decided.",
    ),
    "notify.open_case": ("查看案件", "Open the case"),
    "notify.ack": ("知道了，我来处理", "Acknowledge"),
    "notify.acked": ("已确认", "Acknowledged"),
    "notify.read_all": ("全部标为已读", "Mark all read"),
    "notify.new": ("新", "New"),
    "notify.older": ("更早的通知", "Older notifications"),
    "notify.newest": ("回到最新", "Back to the newest"),
    "notify.sandbox": ("沙盒 {id}", "sandbox {id}"),
    "notify.level": ("升级第 {n} 级", "escalated, level {n}"),
    "notify.ack_hint": (
        "确认即时限提醒已有人跟进；无人确认的提醒会按规则升级给商家和平台运营。",
        "Acknowledging says someone is on it; a warning nobody acknowledges is passed on to "
        "the shop and then to operations, as the policy sets.",
    ),
    "notify.live": (
        "新通知会自动出现，无需刷新页面。",
        "New notifications appear here without reloading.",
    ),
    "notify.toast_new": ("新通知", "New notification"),
    "notify.kind.case_assigned": ("新指派", "Assigned to you"),
    "notify.kind.due_soon": ("即将到期", "Due soon"),
    "notify.kind.breached": ("已逾期", "Breached"),
    "notify.kind.payout": ("赔付到账", "Payout"),
    "notify.kind.complaint_decided": ("投诉已处理", "Complaint decided"),
    "notify.prefs.title": ("接收方式", "How to reach you"),
    "notify.prefs.intro": (
        "站内通知始终开启。您还可以选择用邮件、短信或聊天应用接收；发送由后台完成，失败会自动重试。",
        "Notifications here are always on. You may also be told by email, text message or chat "
        "app; sending happens in the background and is retried when it fails.",
    ),
    "notify.prefs.email": ("邮箱", "Email address"),
    "notify.prefs.email_on": ("用邮件通知我", "Tell me by email"),
    "notify.prefs.phone": ("手机号", "Mobile number"),
    "notify.prefs.sms_on": ("用短信通知我", "Tell me by text message"),
    "notify.prefs.chat_id": ("聊天应用账号", "Chat-app account"),
    "notify.prefs.chat_on": ("用聊天应用通知我", "Tell me in the chat app"),
    "notify.prefs.language": ("邮件和短信的语言", "Language of emails and messages"),
    "notify.prefs.lang_zh": ("中文", "Chinese"),
    "notify.prefs.lang_en": ("英文", "English"),
    "notify.prefs.save": ("保存接收方式", "Save"),
    "notify.prefs.saved": ("已保存。", "Saved."),
    "notify.prefs.refused": (
        "没有保存：请按提示修改标出的项目。",
        "Not saved: please correct the fields marked below.",
    ),
}
