"""A case's history as sentences, in Chinese and English: who did what, when (X-4).

The audit trail stores codes (``give_solution``, ``pause:resolution``, an account
id); people read sentences: "2026-11-24 10:20 服务方 杭州安装一队 给出了解决方案：
明天上午 10 点上门". Names come from ``names`` (accounts, providers, shops,
brands and buyers by id); an id without a name is shown as it is. With
``private`` the buyer's name and any phone number written in a note are masked,
for viewers who may not see the customer's contact
(:func:`aftersales.domain.access.may_see_contact`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aftersales.domain.cases import AuditEntry, Case
from aftersales.domain.contacts import mask_name, mask_phones_in
from aftersales.domain.explain import Bilingual
from aftersales.domain.lifecycle import Channel, Role
from aftersales.domain.policy import PolicyBook

ROLE_NAMES: Mapping[Role, Bilingual] = {
    Role.CONSUMER: Bilingual("买家", "buyer"),
    Role.AGENT: Bilingual("热线坐席", "hotline agent"),
    Role.MERCHANT: Bilingual("商家", "shop"),
    Role.BRAND: Bilingual("品牌", "brand"),
    Role.PROVIDER: Bilingual("服务方", "provider"),
    Role.OPERATIONS: Bilingual("平台运营", "operations"),
    Role.SYSTEM: Bilingual("平台", "The platform"),
    Role.INTEGRATION: Bilingual("商家系统", "the marketplace's system"),
}

CHANNEL_NAMES: Mapping[Channel, Bilingual] = {
    Channel.HOTLINE: Bilingual("服务热线", "the hotline"),
    Channel.SERVICE_FORM: Bilingual("服务报修单", "the service form"),
    Channel.CHAT: Bilingual("在线咨询", "chat"),
    Channel.HELP_BUTTON: Bilingual("一键求助", "one-click help"),
    Channel.API: Bilingual("接口", "the API"),
    Channel.WEB: Bilingual("网页", "the web"),
    Channel.CLI: Bilingual("命令行", "the command line"),
    Channel.IMPORT: Bilingual("数据导入", "an import"),
    Channel.SYSTEM: Bilingual("平台", "the platform"),
}

# What a lifecycle step reads as, after the one who took it.
STEP_VERBS: Mapping[str, Bilingual] = {
    "accept": Bilingual("受理了报修", "accepted the report"),
    "reject": Bilingual("拒绝了报修", "rejected the report"),
    "request_info": Bilingual("请买家补充信息", "asked the buyer for more information"),
    "provide_info": Bilingual("补充了信息", "added the information asked for"),
    "receive_item": Bilingual("确认已收到寄修商品", "confirmed the mailed item arrived"),
    "give_feedback": Bilingual("反馈了维修进度", "gave feedback on the repair"),
    "mark_repaired": Bilingual("标记为已修复", "marked the item repaired"),
    "close": Bilingual("关闭了服务单", "closed the case"),
    "respond": Bilingual("响应了求助", "responded to the request"),
    "give_solution": Bilingual("给出了解决方案", "gave a solution"),
    "resolve": Bilingual("完结了求助", "resolved the request"),
    "withdraw": Bilingual("撤销了求助", "withdrew the request"),
    "quote_accepted": Bilingual("接受了维修报价", "accepted the repair quote"),
    "quote_declined": Bilingual("拒绝了维修报价", "declined the repair quote"),
    "complaint_upheld": Bilingual("判定投诉成立", "upheld the complaint"),
    "complaint_dismissed": Bilingual("判定投诉不成立", "dismissed the complaint"),
}


def party_ids(case: Case) -> set[str]:
    """Every id the history of ``case`` names: to look their names up in one go."""
    ids = {case.item.buyer_account, case.item.merchant_id, case.item.product.brand_id}
    if case.assignee:
        ids.add(case.assignee)
    for entry in case.audit:
        ids.add(entry.actor_id)
        if entry.action == "dispatch" and entry.note:
            ids.add(entry.note)
    for decision in case.decisions:  # OH-3: the providers a dispatch decision names
        if decision.subject == "dispatch":
            named = decision.reason.params.get("provider")
            if isinstance(named, str) and named:
                ids.add(named)
    return ids


def who(
    role: Role, actor_id: str, names: Mapping[str, str], *, buyer: str, private: bool
) -> Bilingual:
    """``服务方 杭州安装一队`` / ``provider 杭州安装一队``; the platform as itself."""
    if role is Role.SYSTEM:
        return ROLE_NAMES[Role.SYSTEM]
    name = names.get(actor_id, actor_id)
    if private and actor_id == buyer:
        name = mask_name(name)
    title = ROLE_NAMES.get(role, Bilingual(role.value, role.value))
    # A name kept in both languages ("热线坐席 017 / Hotline agent 017") is read in each.
    zh, _, en = name.partition(" / ") if " / " in name else (name, "", name)
    return Bilingual(_titled(title.zh, zh), _titled(title.en.capitalize(), en))


def _titled(title: str, name: str) -> str:
    """``服务方 杭州安装一队``; a name that already says the role is not titled twice."""
    return name if name.lower().startswith(title.lower()) else f"{title} {name}"


def case_history(
    case: Case, book: PolicyBook, names: Mapping[str, str], *, private: bool = False
) -> list[dict[str, Any]]:
    """The case's audit trail as sentences, oldest first: ``at``, ``at_local``, ``zh``, ``en``
    and the ``action`` and ``channel`` codes (for styling and tests; never shown)."""
    policy = case.policy(book)
    tz = ZoneInfo(policy.timezone)
    programme = Bilingual(policy.name.zh, policy.name.en)
    lines = []
    for entry in case.audit:
        sentence = _sentence(case, book, entry, names, programme, tz, private)
        lines.append(
            {
                "at": entry.at.isoformat(),
                "at_local": f"{entry.at.astimezone(tz):%Y-%m-%d %H:%M}",
                "action": entry.action,
                "channel": entry.channel.value,
                "zh": sentence.zh,
                "en": sentence.en,
            }
        )
    return lines


def _sentence(
    case: Case,
    book: PolicyBook,
    entry: AuditEntry,
    names: Mapping[str, str],
    programme: Bilingual,
    tz: ZoneInfo,
    private: bool,
) -> Bilingual:
    actor = who(entry.role, entry.actor_id, names, buyer=case.item.buyer_account, private=private)
    note = mask_phones_in(entry.note) if private else entry.note
    action, _, clock_id = entry.action.partition(":")
    channel = CHANNEL_NAMES.get(entry.channel, Bilingual(entry.channel.value, entry.channel.value))
    if action == "open":
        return Bilingual(
            f"{actor.zh} 通过{channel.zh}提交了{programme.zh}服务单",
            f"{actor.en} opened the {programme.en} case through {channel.en}",
        )
    if action == "dispatch":
        to = names.get(entry.note, entry.note)
        return Bilingual(
            f"{actor.zh} 将服务单指派给 {to}", f"{actor.en} dispatched the case to {to}"
        )
    if action in ("pause", "resume"):
        clock = _clock_name(case, book, clock_id)
        if action == "resume":
            return Bilingual(
                f"{actor.zh} 恢复了「{clock.zh}」计时", f'{actor.en} resumed "{clock.en}"'
            )
        named = book.service_standards.exemption_names.get(entry.note)
        reason = Bilingual(named.zh, named.en) if named else Bilingual(note, note)
        return Bilingual(
            f"{actor.zh} 以「{reason.zh}」为由暂停了「{clock.zh}」计时",
            f'{actor.en} paused "{clock.en}": {reason.en}',
        )
    if action == "appointment":
        when = f"{datetime.fromisoformat(entry.note).astimezone(tz):%Y-%m-%d %H:%M}"
        return Bilingual(
            f"{actor.zh} 与买家约定上门时间：{when}",
            f"{actor.en} booked the visit with the buyer for {when}",
        )
    if action == "reschedule":  # SS-2: the buyer moved the visit window
        when = f"{datetime.fromisoformat(entry.note).astimezone(tz):%Y-%m-%d %H:%M}"
        return Bilingual(
            f"{actor.zh} 应买家要求改约上门时间至：{when}",
            f"{actor.en} moved the visit at the buyer's request to {when}",
        )
    if action == "note":
        by_phone = entry.channel is Channel.HOTLINE
        return Bilingual(
            f"{actor.zh} {'记录来电' if by_phone else '补充说明'}：{note}",
            f"{actor.en} {'noted a call' if by_phone else 'added a note'}: {note}",
        )
    if action == "quote":
        amount = f"¥{int(entry.note or 0) / 100:,.2f}"
        return Bilingual(
            f"{actor.zh} 发出维修报价 {amount}", f"{actor.en} quoted {amount} for the repair"
        )
    if action == "complain":
        return Bilingual(
            f"{actor.zh} 提交了投诉" + (f"：{note}" if note else ""),
            f"{actor.en} complained" + (f": {note}" if note else ""),
        )
    verb = STEP_VERBS.get(action)
    if verb is None:  # a step without its own words: say where the case went
        zh, en = case.lifecycle.states.get(entry.to_state, (entry.to_state, entry.to_state))
        verb = Bilingual(f"将状态改为「{zh}」", f'moved the case to "{en}"')
    return Bilingual(
        f"{actor.zh} {verb.zh}" + (f"：{note}" if note else ""),
        f"{actor.en} {verb.en}" + (f": {note}" if note else ""),
    )


def _clock_name(case: Case, book: PolicyBook, clock_id: str) -> Bilingual:
    for definition in case.policy(book).clocks:
        if definition.id == clock_id:
            return Bilingual(definition.name.zh, definition.name.en)
    return Bilingual(clock_id, clock_id)
