"""Explanations: every decision carries a reason that renders in Chinese and English (X-2).

A decision is stored as a :class:`Reason` — a code, the rule ID it applies and
its parameters — and rendered on demand, so what a case shows today and what it
showed when decided are the same words. Parameters are plain strings or
:class:`Bilingual` pairs (names, amounts and durations that differ by language),
which keeps a reason serialisable as JSON.

Every template names its rule ID, and a test renders each one in both languages.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from aftersales.domain.money import Amount

Language = Literal["zh", "en"]


@dataclass(frozen=True)
class Bilingual:
    zh: str
    en: str

    def in_(self, language: Language) -> str:
        return self.zh if language == "zh" else self.en


Param = str | Bilingual


@dataclass(frozen=True)
class Reason:
    """A decision's reason: template code, the rule ID it cites, and its parameters."""

    code: str
    rule: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def render(self, language: Language) -> str:
        return render(self, language)

    @property
    def zh(self) -> str:
        return render(self, "zh")

    @property
    def en(self) -> str:
        return render(self, "en")

    def to_dict(self) -> dict[str, object]:
        params: dict[str, object] = {
            k: ({"zh": v.zh, "en": v.en} if isinstance(v, Bilingual) else v)
            for k, v in self.params.items()
        }
        return {"code": self.code, "rule": self.rule, "params": params}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Reason:
        raw = data.get("params") or {}
        assert isinstance(raw, Mapping)
        params: dict[str, Param] = {}
        for key, value in raw.items():
            if isinstance(value, Mapping):
                params[str(key)] = Bilingual(zh=str(value["zh"]), en=str(value["en"]))
            else:
                params[str(key)] = str(value)
        return cls(code=str(data["code"]), rule=str(data["rule"]), params=params)


# code -> (zh, en). Placeholders: {rule} plus the reason's params.
TEMPLATES: Mapping[str, tuple[str, str]] = {
    # --- policy versions (OH-8) ---
    "policy.version_in_force": (
        "本次{programme}于 {at} 发起，按当时生效的版本「{policy}」（{effective_from} 起生效）处理（{rule}）。",
        "This {programme} request was made at {at}, so it is judged under version '{policy}', "
        "in force since {effective_from} ({rule}).",
    ),
    # --- the entitlements an order item was sold with (NW-1, OH-1) ---
    "entitlements.snapshot": (
        "按该商品「{product}」于 {entitled_on} 售出时记录的权益判定（类目、标识、服务与保修期）；"
        "此后商品资料的修改不影响这件已购商品（{rule}）。",
        "Judged on the entitlements '{product}' was sold with on {entitled_on} (category, badges, "
        "services and warranty period); later changes to the product's listing do not change "
        "them for this item ({rule}).",
    ),
    # --- eligibility: national warranty ---
    "nw.eligible_in_warranty": (
        "商品带有全国联保标识，保修期 {months} 个月（自购买日 {purchased_on} 起，至 {warranty_until} 止），"
        "本次报修在保修期内（{rule}）。",
        "The product carries the national-warranty badge with a {months}-month warranty "
        "(from purchase on {purchased_on} through {warranty_until}); this report is within it ({rule}).",
    ),
    "nw.eligible_out_of_warranty": (
        "商品带有全国联保标识，但保修期已于 {warranty_until} 结束（购买日 {purchased_on}，保修 {months} 个月）。"
        "仍可报修，但运费和维修费由消费者承担（{rule}，见 NW-6）。",
        "The product carries the national-warranty badge, but its {months}-month warranty ended on "
        "{warranty_until} (bought {purchased_on}). The report may still be filed; shipping and the "
        "repair fee are the consumer's ({rule}, see NW-6).",
    ),
    "nw.not_badged": (
        "商品「{product}」没有全国联保标识，不能通过全国联保报修；消费者的法定权利不受影响（{rule}）。",
        "The product '{product}' does not carry the national-warranty badge, so it cannot be reported "
        "under the national warranty; the consumer's statutory rights are unaffected ({rule}).",
    ),
    "nw.no_warranty_period": (
        "商品「{product}」带有全国联保标识，但没有登记保修期（月数），请品牌补充后再报修（{rule}）。",
        "The product '{product}' carries the national-warranty badge but has no warranty period on "
        "record; the brand must add one before reports can be judged ({rule}).",
    ),
    "nw.shipping_in_warranty": (
        "保修期内寄修：运费由品牌/厂家承担（{rule}）。",
        "In warranty: the brand or manufacturer pays shipping for a mail-in repair ({rule}).",
    ),
    "nw.shipping_out_of_warranty": (
        "已过保修期：寄修运费和维修费由消费者承担；开始收费维修前须先经消费者确认报价（{rule}）。",
        "Out of warranty: the consumer pays shipping and the repair fee, and must accept a quote "
        "before any paid repair work starts ({rule}).",
    ),
    "nw.quote_issued": (
        "品牌报价维修费 {amount}，等待消费者确认（{rule}）。",
        "The brand quoted {amount} for the repair; waiting for the consumer to accept or decline ({rule}).",
    ),
    "nw.quote_accepted": (
        "消费者于 {at} 接受了维修报价 {amount}（{rule}）。",
        "The consumer accepted the repair quote of {amount} at {at} ({rule}).",
    ),
    "nw.quote_declined": (
        "消费者于 {at} 拒绝了维修报价 {amount}，不进行收费维修（{rule}）。",
        "The consumer declined the repair quote of {amount} at {at}; no paid repair will be done ({rule}).",
    ),
    "nw.quote_required": (
        "已过保修期的商品须先由消费者接受维修报价，才能进行收费维修（{rule}）。",
        "An out-of-warranty item needs a repair quote accepted by the consumer before paid repair work ({rule}).",
    ),
    # --- eligibility: one-click help ---
    "oh.service_eligible": (
        "商品带有「{service}」服务，所属类目「{category}」在「{covered_category}」之下，可以一键求助（{rule}）。",
        "The item carries the '{service}' service and its category '{category}' falls under "
        "'{covered_category}', so one-click help is available ({rule}).",
    ),
    "oh.no_qualifying_service": (
        "商品「{product}」没有可一键求助的服务（预约安装、送货入户、送货入户并安装、三年质保中的适用类目）（{rule}）。",
        "The product '{product}' has no service that qualifies for one-click help (scheduled "
        "installation, delivery into the home, delivery with installation or three-year warranty on "
        "their categories) ({rule}).",
    ),
    "oh.service_not_on_item": (
        "商品「{product}」没有「{service}」服务（{rule}）。",
        "The product '{product}' does not carry the '{service}' service ({rule}).",
    ),
    "oh.category_not_covered": (
        "「{service}」服务只在类目「{covered_categories}」下支持一键求助，商品类目「{category}」不在其中（{rule}）。",
        "The '{service}' service qualifies for one-click help only in '{covered_categories}'; the item's "
        "category '{category}' is not among them ({rule}).",
    ),
    "oh.city_covered": (
        "服务地址位于{city}，在一键求助服务城市之内（{rule}）。",
        "The service address is in {city}, a city covered by one-click help ({rule}).",
    ),
    "oh.city_not_covered": (
        "服务地址位于{city}，暂不在一键求助服务城市之内（{rule}）。",
        "The service address is in {city}, which one-click help does not cover yet ({rule}).",
    ),
    "oh.address_unresolved": (
        "无法从服务地址识别出所在城市，请补充完整的省市区地址（{rule}）。",
        "The city could not be determined from the service address; please give the full "
        "province, city and district ({rule}).",
    ),
    "oh.dispatched": (
        "求助已于 {at} 立即指派给服务方「{assignee}」；商家「{merchant}」仍承担责任（{rule}）。",
        "The request was dispatched at {at} to the provider '{assignee}'; the merchant '{merchant}' "
        "remains liable ({rule}).",
    ),
    "oh.dispatched_to_merchant": (
        "该商品在此城市没有登记的服务方，求助已于 {at} 直接指派给商家「{merchant}」（{rule}）。",
        "No provider is registered for this item, service and city, so the request was dispatched "
        "at {at} to the merchant '{merchant}' ({rule}).",
    ),
    # --- dispatch as a decision (OH-3): the choice, the runner-up, who was skipped and why ---
    "dispatch.chosen": (
        "在 {qualified} 家符合条件的服务方中选定「{provider}」，得分 {score}（{parts}）（{rule}）。",
        "Of {qualified} qualified provider(s), '{provider}' was chosen with a score of {score} "
        "({parts}) ({rule}).",
    ),
    "dispatch.runner_up": (
        "次选为「{provider}」，得分 {score}，落后在：{lost_on}（{rule}）。",
        "The runner-up was '{provider}' with a score of {score}; it fell behind on: {lost_on} ({rule}).",
    ),
    "dispatch.no_runner_up": (
        "没有其他符合条件的服务方，因此没有次选（{rule}）。",
        "No other provider qualified, so there was no runner-up ({rule}).",
    ),
    "dispatch.skipped_fulfilment": (
        "跳过「{provider}」：它只以「{fulfil}」方式提供此服务，该方式不被此服务接受（{rule}）。",
        "Skipped '{provider}': it offers this service only {fulfil}, which this service does not "
        "accept ({rule}).",
    ),
    "dispatch.skipped_closed": (
        "跳过「{provider}」：其日历在 {first} 至 {last} 期间停止接单（{why}）（{rule}）。",
        "Skipped '{provider}': its calendar is closed from {first} to {last} ({why}) ({rule}).",
    ),
    "dispatch.skipped_capacity": (
        "跳过「{provider}」：{day} 已接 {used} 单，达到每日容量 {capacity} 单（{rule}）。",
        "Skipped '{provider}': it was given {used} case(s) on {day}, its daily capacity of "
        "{capacity} ({rule}).",
    ),
    "dispatch.skipped_capacity_area": (
        "跳过「{provider}」：{day} 在区域 {area} 已接 {used} 单，达到该区域每日容量 {capacity} 单（{rule}）。",
        "Skipped '{provider}': it was given {used} case(s) in area {area} on {day}, its daily "
        "capacity there of {capacity} ({rule}).",
    ),
    "dispatch.nobody_qualified": (
        "没有符合条件的服务方（考察了 {candidates} 家）：{constraint}；求助交给商家（{rule}）。",
        "No provider qualified ({candidates} considered): {constraint}; the request goes to the "
        "merchant ({rule}).",
    ),
    # --- hand-overs after dispatch (OH-3): the merchant stays liable throughout ---
    "dispatch.declined": (
        "服务方「{provider}」于 {at} 拒绝接单，理由：{why}；求助转交「{assignee}」，商家「{merchant}」仍承担责任（{rule}）。",
        "The provider '{provider}' declined the request at {at} because: {why}; it was handed to "
        "'{assignee}', and the merchant '{merchant}' remains liable ({rule}).",
    ),
    "dispatch.reassigned": (
        "运营于 {at} 将求助从「{provider}」改派给「{assignee}」，理由：{why}；商家「{merchant}」仍承担责任（{rule}）。",
        "Operations reassigned the request at {at} from '{provider}' to '{assignee}' because: "
        "{why}; the merchant '{merchant}' remains liable ({rule}).",
    ),
    "dispatch.replaced": (
        "服务方「{provider}」未在 1 小时内给出解决方案（OH-4），按政策于 {at} 改派给「{assignee}」；"
        "商家「{merchant}」仍承担责任（{rule}）。",
        "The provider '{provider}' missed its 1-hour plan (OH-4), so by policy the request was "
        "handed at {at} to '{assignee}'; the merchant '{merchant}' remains liable ({rule}).",
    ),
    # --- clocks ---
    "clock.started": (
        "「{clock}」于 {start} 开始计时，时限 {duration}（{basis}），截止 {due}（{rule}）。",
        "'{clock}' started at {start}; it allows {duration} ({basis}) and is due by {due} ({rule}).",
    ),
    "clock.started_agreed_day": (
        "「{clock}」于 {start} 开始计时：须在约定日当天 {due} 前完成（{rule}）。",
        "'{clock}' started at {start}: it is due by the end of the agreed day, {due} ({rule}).",
    ),
    "appointment.booked": (
        "{who}于 {at} 约定上门时段 {slot}；约定日即为安装完成的截止日（{rule}）。",
        "{who} booked the visit window {slot} at {at}; the agreed day is the installation "
        "deadline ({rule}).",
    ),
    "appointment.rescheduled": (
        "买家于 {at} 将上门时段由 {before} 改约至 {slot}（第 {count} 次改约，最多 {limit} 次）；"
        "改约是豁免事由，约定日随之顺延（{rule}）。",
        "The buyer moved the visit from {before} to {slot} at {at} (reschedule {count} of at most "
        "{limit}); a buyer's reschedule is an exemption, so the agreed day moves with it ({rule}).",
    ),
    "appointment.reschedule_limit": (
        "上门时段最多可改约 {limit} 次，已用完（{rule}）。",
        "The visit may be rescheduled at most {limit} times, and that is used up ({rule}).",
    ),
    "appointment.reschedule_too_late": (
        "改约须在约定时段开始前 {before} 提出，即不晚于 {latest}（{rule}）。",
        "A reschedule must come at least {before} before the booked window starts, so by "
        "{latest} ({rule}).",
    ),
    "clock.not_applicable_outside_window": (
        "求助于 {start} 发起，不在{window}之内（含开始时刻、不含结束时刻），因此不适用「{clock}」的承诺（{rule}）。",
        "The request was made at {start}, outside {window} (start inclusive, end exclusive), so the "
        "commitment '{clock}' does not apply ({rule}).",
    ),
    "clock.met": (
        "「{clock}」已于 {at} 完成，在截止时间 {due} 之前，承诺已履行（{rule}）。",
        "'{clock}' was met at {at}, within its deadline of {due} ({rule}).",
    ),
    "clock.breached": (
        "「{clock}」截止时间 {due} 已过仍未完成，承诺未履行（{rule}）。",
        "'{clock}' was not met: its deadline of {due} passed ({rule}).",
    ),
    "clock.done_late": (
        "「{clock}」于 {at} 才完成，晚于截止时间 {due}（{rule}）。",
        "'{clock}' was done only at {at}, after its deadline of {due} ({rule}).",
    ),
    "clock.paused": (
        "「{clock}」于 {at} 因「{reason}」暂停计时，尚余 {remaining}（{rule}）。",
        "'{clock}' was paused at {at} because of '{reason}', with {remaining} left ({rule}).",
    ),
    "clock.resumed": (
        "「{clock}」于 {at} 恢复计时，暂停的时间不计入时限，新的截止时间为 {due}（{rule}）。",
        "'{clock}' resumed at {at}; the paused time does not count, so it is now due by {due} ({rule}).",
    ),
    "clock.cancelled": (
        "案件于 {at} 以「{state}」结束，「{clock}」不再计时（{rule}）。",
        "The case ended as '{state}' at {at}, so '{clock}' stopped counting ({rule}).",
    ),
    # --- penalties and payouts ---
    "penalty.fixed": (
        "因「{failure}」，{payer}向买家账户 {payee} 支付 {amount}，为规定的固定金额（{rule}）。",
        "For '{failure}', {payer} pays {amount} to the buyer account {payee}, the fixed amount the "
        "rule sets ({rule}).",
    ),
    "penalty.per_yuan": (
        "因「{failure}」，按商品实付 {price} 每元 {rate} 积分计 {raw} 积分，上限 {cap}，"
        "{payer}向买家账户 {payee} 支付 {amount}（{rule}）。",
        "For '{failure}': {rate} points per yuan of the paid price {price} make {raw} points, capped "
        "at {cap}, so {payer} pays {amount} to the buyer account {payee} ({rule}).",
    ),
    "penalty.refund_plus_same": (
        "因「{failure}」，退还多收的 {overcharge}，并另付同等金额，{payer}向买家账户 {payee} 共支付 {amount}（{rule}）。",
        "For '{failure}', the overcharge of {overcharge} is refunded and the same amount paid again: "
        "{payer} pays {amount} in all to the buyer account {payee} ({rule}).",
    ),
    "penalty.awaits_complaint": (
        "「{clock}」未履行。按规定，须消费者投诉且投诉成立后才赔付 {amount}（{rule}）。",
        "'{clock}' was missed. Under the rule, {amount} is paid only once a complaint about it is "
        "upheld ({rule}).",
    ),
    "penalty.provider_share": (
        "「{clock}」违约时由服务方「{provider}」承接（自 {since} 起）：赔付仍由商家支付给买家，"
        "服务方应向商家「{merchant}」承担赔付 {penalty} 的 {percent}%，即 {amount}（{rule}）。",
        "The provider '{provider}' held '{clock}' when it was breached (since {since}): the "
        "merchant still pays the buyer, and the provider owes the merchant '{merchant}' "
        "{percent}% of the {penalty} penalty, {amount} ({rule}).",
    ),
    "penalty.already_paid": (
        "「{failure}」已赔付过一次（{key}），同一失约不重复赔付（{rule}）。",
        "'{failure}' was already paid once ({key}); one failure is not paid twice ({rule}).",
    ),
    "penalty.none_defined": (
        "「{clock}」未履行；该承诺没有规定自动赔付，按一般规则处理（{rule}）。",
        "'{clock}' was missed; no automatic payout is set for it, so it is handled under the "
        "general rules ({rule}).",
    ),
    # --- complaints ---
    "complaint.refused_penalty_paid": (
        "该失约已于 {paid_at} 赔付 {amount}（{penalty_rule}），因此不再受理就同一失约提出的违背承诺投诉；"
        "如您仍需要服务，服务方仍须提供（{rule}）。",
        "A penalty of {amount} was already paid for this failure at {paid_at} ({penalty_rule}), so a "
        "breach-of-commitment complaint about the same failure is not accepted; the service itself "
        "must still be performed if you ask ({rule}).",
    ),
    "complaint.refused_met": (
        "「{clock}」已于 {at} 按时完成，没有可投诉的失约（{rule}）。",
        "'{clock}' was met on time at {at}; there is no failure to complain about ({rule}).",
    ),
    "complaint.refused_not_due": (
        "「{clock}」尚未到期（截止 {due}），到期仍未完成后才可投诉（{rule}）。",
        "'{clock}' is not due yet (due by {due}); a complaint can be filed once it is missed ({rule}).",
    ),
    "complaint.refused_not_applicable": (
        "本案不适用「{clock}」的承诺，因此不能就此投诉（{rule}）。",
        "The commitment '{clock}' does not apply to this case, so there is nothing to complain about ({rule}).",
    ),
    "complaint.refused_not_started": (
        "「{clock}」尚未开始计时（例如商品尚未寄达并受理），暂不能就此投诉（{rule}）。",
        "'{clock}' has not started (for example, the item has not been received and accepted), so "
        "there is nothing to complain about yet ({rule}).",
    ),
    "complaint.routed_not_accepted": (
        "该报修从未被受理，不适用全国联保赔付；投诉已转交商家按一般规则处理（{rule}）。",
        "This report was never accepted, so no national-warranty payout applies; the complaint goes "
        "to the merchant under the general rules ({rule}).",
    ),
    "complaint.pending": (
        "投诉已受理，等待平台判定（{rule}）。",
        "The complaint is accepted and waits for the platform's decision ({rule}).",
    ),
    "complaint.upheld": (
        "投诉成立：{detail}（{rule}）。",
        "The complaint is upheld: {detail} ({rule}).",
    ),
    "complaint.dismissed": (
        "投诉不成立：{note}（{rule}）。",
        "The complaint is dismissed: {note} ({rule}).",
    ),
    # --- notices: what a notification says (docs/notifications.md) ---
    "notice.case_assigned": (
        "案件 {case}（{item}）已指派给您处理：{due}（{rule}）。",
        "Case {case} ({item}) has been assigned to you: {due} ({rule}).",
    ),
    "notice.due_soon": (
        "案件 {case}（{item}）的「{clock}」将于 {due} 到期，还剩 {left}，请尽快处理（{rule}）。",
        "Case {case} ({item}): '{clock}' falls due at {due}, {left} from now; please act "
        "before then ({rule}).",
    ),
    "notice.escalated": (
        "案件 {case}（{item}）的「{clock}」将于 {due} 到期，还剩 {left}；{since} 发出的提醒无人确认，"
        "现升级给您（第 {level} 级），请督促处理（{rule}）。",
        "Case {case} ({item}): '{clock}' falls due at {due}, {left} from now; the warning sent "
        "at {since} was not acknowledged, so it is passed on to you (level {level}); please see "
        "that it is handled ({rule}).",
    ),
    "notice.breached": (
        "案件 {case}（{item}）的「{clock}」已于 {due} 逾期（{rule}）。",
        "Case {case} ({item}): '{clock}' was breached at {due} ({rule}).",
    ),
    "notice.payout": (
        "案件 {case}（{item}）因「{failure}」，{amount} 已付入您的账户（{rule}）。",
        "Case {case} ({item}): {amount} has been paid to your account for '{failure}' ({rule}).",
    ),
    "notice.complaint_decided": (
        "案件 {case}（{item}）的投诉 {complaint} 已处理：{outcome}（{rule}）。",
        "The complaint {complaint} on case {case} ({item}) has been decided: {outcome} ({rule}).",
    ),
}


def render(reason: Reason, language: Language) -> str:
    try:
        zh, en = TEMPLATES[reason.code]
    except KeyError:
        raise KeyError(f"no explanation template for code '{reason.code}'") from None
    template = zh if language == "zh" else en
    values: dict[str, str] = {"rule": reason.rule}
    for key, value in reason.params.items():
        values[key] = value.in_(language) if isinstance(value, Bilingual) else value
    return template.format_map(values)  # C; string.Formatter is Python, 7x slower


def placeholders(code: str) -> set[str]:
    """The parameter names a template uses (both languages), for tests and tooling."""
    names: set[str] = set()
    for template in TEMPLATES[code]:
        names |= {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return names


# --- parameter formatting helpers (pure) ---


@lru_cache(maxsize=4096)
def local_time(at: datetime, timezone: str) -> str:
    """An instant as local wall time with its offset, e.g. '2026-11-24 10:00:00 +08:00'.

    Remembered: the cases of a burst all breach at the same instant, owed by the same
    due time, so the deadline engine asks for the same few texts thousands of times.
    """
    local = at.astimezone(ZoneInfo(timezone))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


def duration_text(duration: timedelta) -> Bilingual:
    seconds = int(duration.total_seconds())
    if seconds % 86400 == 0 and seconds > 2 * 86400:  # "48 hours" reads as the rules write it
        days = seconds // 86400
        return Bilingual(f"{days} 天", f"{days} day" + ("s" if days != 1 else ""))
    if seconds % 3600 == 0 and seconds >= 3600:
        hours = seconds // 3600
        return Bilingual(f"{hours} 小时", f"{hours} hour" + ("s" if hours != 1 else ""))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    zh = (f"{hours} 小时 " if hours else "") + f"{minutes} 分" + (f" {secs} 秒" if secs else "")
    en = (f"{hours} h " if hours else "") + f"{minutes} min" + (f" {secs} s" if secs else "")
    return Bilingual(zh, en)


def amount_text(amount: Amount) -> Bilingual:
    return Bilingual(amount.text_zh(), amount.text_en())
