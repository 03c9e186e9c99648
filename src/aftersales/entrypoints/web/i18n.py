"""The web application's own words, in Chinese (the default) and English.

Decisions and explanations come from the domain already in both languages
(X-2); this catalogue holds only the interface: titles, buttons, column heads.
A key missing from the catalogue is a programming error, so :func:`text` raises
rather than showing a raw key to a buyer.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Literal

from aftersales.entrypoints.web import words as _word_modules

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"
LANG_COOKIE = "aftersales_lang"

_WORDS: dict[str, tuple[str, str]] = {
    "app.name": ("售后服务平台", "aftersales"),
    "nav.orders": ("我的订单", "My orders"),
    "nav.cases": ("服务单", "Cases"),
    "nav.queue": ("待办队列", "Queue"),
    "nav.agent": ("热线报修", "Hotline"),
    "nav.partner": ("我的服务单", "My cases"),
    "nav.ops": ("运营看板", "Dashboard"),
    "nav.payouts": ("赔付", "Payouts"),
    "nav.complaints": ("投诉", "Complaints"),
    "nav.sandboxes": ("沙盒时钟", "Sandbox clocks"),
    "nav.brands": ("品牌售后信息", "Brand after-sales info"),
    "nav.imports": ("数据导入", "Imports"),
    "nav.logout": ("退出", "Sign out"),
    "nav.switch": ("English", "中文"),
    "login.title": ("登录", "Sign in"),
    "login.username": ("账号", "Account"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.failed": ("账号或密码不正确。", "That account and password do not match."),
    "orders.title": ("我的订单", "My orders"),
    "orders.empty": ("还没有订单。", "No orders yet."),
    "orders.bought": ("购买日期", "Bought on"),
    "orders.use_service": ("使用服务（报修）", "Use service (report a fault)"),
    "orders.help": ("一键求助", "One-click help"),
    "orders.help_failure": ("遇到的问题", "What went wrong"),
    "orders.open_case": ("查看服务单", "Open case"),
    "orders.no_programme": (
        "该商品不支持全国联保或一键求助。",
        "This item is in neither programme.",
    ),
    "repair.title": ("服务报修单", "Repair form"),
    "repair.fault": ("故障描述", "Fault description"),
    "repair.phone": ("联系电话", "Contact phone"),
    "repair.time": ("期望上门/联系时间", "Preferred time"),
    "repair.photos": ("照片", "Photos"),
    "repair.submit": ("提交报修", "Submit report"),
    "case.title": ("服务单", "Case"),
    "case.state": ("状态", "State"),
    "case.opened": ("发起时间", "Opened"),
    "case.assignee": ("处理方", "Handled by"),
    "case.clocks": ("服务时效", "Commitments"),
    "case.due": ("截止", "Due"),
    "case.left": ("剩余", "Left"),
    "case.overdue": ("已超时", "overdue"),
    "case.sandbox_clock": ("沙盒时钟", "Sandbox clock"),
    "case.payouts": ("赔付", "Payouts"),
    "case.no_payouts": ("暂无赔付。", "No payouts."),
    "case.provider_shares": (
        "服务方分担（服务方应付商家）",
        "Providers' shares (owed by the provider to the merchant)",
    ),
    "case.timeline": ("处理记录与说明", "Timeline and explanations"),
    "case.audit": ("操作记录", "Audit trail"),
    "case.actions": ("处理", "Actions"),
    "case.note": ("说明", "Note"),
    "case.pause": ("暂停计时（免责事由）", "Pause the clock (exemption)"),
    "case.resume": ("恢复计时", "Resume the clock"),
    "case.complain": ("投诉（违背承诺）", "Complain (breach of commitment)"),
    "case.complaint_text": ("投诉内容", "What happened"),
    "case.complaints": ("投诉", "Complaints"),
    "case.quote": ("维修报价", "Repair quote"),
    "case.quote_amount": ("报价（元）", "Quote (yuan)"),
    "case.quote_issue": ("发出报价", "Send quote"),
    "case.quote_accept": ("接受报价", "Accept quote"),
    "case.quote_decline": ("拒绝报价", "Decline quote"),
    "case.attachments": ("附件", "Attachments"),
    "case.uphold": ("投诉成立", "Uphold"),
    "case.dismiss": ("投诉不成立", "Dismiss"),
    "queue.title": ("待办队列（按剩余时间排序）", "Queue (nearest breach first)"),
    "queue.empty": ("没有待处理的服务单。", "Nothing waiting."),
    "queue.clock": ("时效", "Commitment"),
    "queue.warning": ("即将超时", "about to breach"),
    "agent.title": ("热线坐席：为来电买家报修", "Hotline agent: file a report for a caller"),
    "agent.search": ("买家账号 / 订单号 / 商品行号", "Buyer account / order id / item id"),
    "agent.find": ("查找", "Find"),
    "agent.caller": ("来电人", "Caller"),
    "agent.file": ("代为报修", "File the report"),
    "agent.none": ("没有找到订单。", "No order found."),
    "partner.title": ("服务单、赔付与履约", "Cases, payouts and compliance"),
    "ops.title": ("履约看板", "Compliance dashboard"),
    "ops.by": ("维度", "By"),
    "ops.from": ("开始", "From"),
    "ops.to": ("结束", "To"),
    "ops.sandbox": ("范围", "Scope"),
    "ops.show": ("查看", "Show"),
    "ops.met": ("按时", "Met"),
    "ops.breached": ("超时", "Breached"),
    "ops.na": ("不适用", "Not applicable"),
    "ops.running": ("进行中", "Running"),
    "ops.rate": ("履约率", "Kept"),
    "ops.points": ("赔付积分", "Points paid"),
    "ops.complaints_title": ("待判定的投诉", "Complaints to decide"),
    "ops.no_complaints": ("没有待判定的投诉。", "No complaints waiting."),
    "ops.sandboxes_title": ("沙盒时钟", "Sandbox clocks"),
    "ops.advance": ("拨快", "Advance by"),
    "ops.advance_go": ("拨快时钟", "Advance clock"),
    "ops.create_sandbox": ("新建沙盒", "New sandbox"),
    "ops.start": ("起始时间", "Starts at"),
    "ops.demo_data": ("附带演示订单", "with a copy of the demo orders"),
    "orders.warranty_until": ("全国联保，保修至", "National warranty until"),
    "orders.if_now": ("如果现在求助：", "If you ask for help now:"),
    "orders.warranty_ended": ("保修期已于此日结束：", "The warranty ended on"),
    "imports.title": ("数据导入", "Data imports"),
    "imports.upload": ("上传文件", "Upload a file"),
    "imports.help": (
        "CSV 文件请以数据类型命名（如 products.csv、order_items.csv），或在下方选择类型；"
        "NDJSON 文件每行用 kind 字段注明类型。",
        "Name a CSV file after its kind (e.g. products.csv, order_items.csv) or choose the "
        "kind below; give each NDJSON line its kind in a 'kind' field.",
    ),
    "imports.file": ("文件（CSV 或 NDJSON）", "File (CSV or NDJSON)"),
    "imports.kind": ("数据类型", "Kind"),
    "imports.kind_auto": ("按文件名判断", "from the file name"),
    "imports.sandbox": ("导入到", "Load into"),
    "imports.dry_run": ("试运行（只检查，不保存）", "Dry run (check only, keep nothing)"),
    "imports.submit": ("开始导入", "Start the import"),
    "imports.jobs": ("导入任务", "Import jobs"),
    "imports.none": ("还没有导入任务。", "No imports yet."),
    "imports.file_col": ("文件", "File"),
    "imports.progress": ("进度", "Progress"),
    "imports.rows": ("已读行数", "Rows read"),
    "imports.rows_unit": ("行", "rows"),
    "imports.problems": ("问题", "Problems"),
    "imports.submitted": ("提交于", "Submitted"),
    "imports.finished": ("结束于", "Ended"),
    "imports.counts": ("结果", "Results"),
    "imports.all": ("合计", "All"),
    "imports.dry": ("试运行", "dry run"),
    "imports.refreshing": (
        "导入进行中，本页每 2 秒自动刷新。",
        "The import is running; this page refreshes every 2 seconds.",
    ),
    "imports.download": ("下载全部问题（CSV）", "Download every problem (CSV)"),
    "imports.errors_first": ("以下为前 100 条问题。", "The first 100 problems:"),
    "imports.line": ("行", "Line"),
    "imports.field": ("列", "Column"),
    "imports.message": ("说明及修改方法", "What is wrong and how to fix it"),
    "imports.status.queued": ("排队中", "queued"),
    "imports.status.running": ("导入中", "running"),
    "imports.status.done": ("已完成", "done"),
    "imports.status.failed": ("失败", "failed"),
    "imports.result.created": ("新建", "created"),
    "imports.result.updated": ("更新", "updated"),
    "imports.result.unchanged": ("未变", "unchanged"),
    "imports.result.stale": ("已过时", "stale"),
    "imports.result.refused": ("拒绝", "refused"),
    "imports.kinds.brands": ("品牌", "brands"),
    "imports.kinds.merchants": ("店铺", "shops"),
    "imports.kinds.buyers": ("买家", "buyers"),
    "imports.kinds.products": ("商品", "products"),
    "imports.kinds.providers": ("服务商", "service providers"),
    "imports.kinds.coverage": ("服务范围", "coverage"),
    "imports.kinds.service_centres": ("服务网点", "service centres"),
    "imports.kinds.order_items": ("订单商品", "order items"),
    "imports.kinds.orders": ("订单", "orders"),
    "imports.kinds.brand": ("品牌", "brands"),
    "imports.kinds.merchant": ("店铺", "shops"),
    "imports.kinds.buyer": ("买家", "buyers"),
    "imports.kinds.product": ("商品", "products"),
    "imports.kinds.provider": ("服务商", "service providers"),
    "imports.kinds.order": ("订单", "orders"),
    "col.case": ("服务单", "Case"),
    "col.programme": ("服务", "Programme"),
    "col.product": ("商品", "Product"),
    "col.state": ("状态", "State"),
    "col.opened": ("发起", "Opened"),
    "col.city": ("城市", "City"),
    "col.rule": ("规则", "Rule"),
    "col.amount": ("金额", "Amount"),
    "col.payer": ("支付方", "Payer"),
    "col.payee": ("收款方", "Payee"),
    "col.when": ("时间", "When"),
    "col.why": ("原因", "Why"),
    "col.buyer": ("买家", "Buyer"),
    "col.sandbox": ("沙盒", "Sandbox"),
    "col.clock": ("时钟", "Clock"),
    "col.due": ("截止", "Due"),
    "col.left": ("剩余", "Left"),
    "col.status": ("状态", "Status"),
    "col.name": ("名称", "Name"),
    "col.now": ("当前时间", "Now"),
    "brand.hotline": ("售后热线", "Hotline"),
    "brand.terms": ("保修条款", "Warranty terms"),
    "brand.exclusions": ("不在保修范围", "Not covered"),
    "brand.centres": ("服务网点", "Service centres"),
    "error.title": ("无法完成", "Could not do that"),
    "error.back": ("返回", "Back"),
    "error.forbidden": ("您无权查看此页面。", "This page is not open to your account."),
    "error.not_found": ("没有找到。", "Not found."),
    "error.csrf": (
        "表单已过期，请刷新页面后重试。",
        "The form has expired; reload the page and try again.",
    ),
    "programme.national_warranty": ("全国联保", "National joint warranty"),
    "programme.one_click_help": ("一键求助", "One-click help"),
    "live": ("正式", "live"),
}


def _merge_area_words() -> None:
    """Add each area's catalogue (``web/words/<area>.py``, a ``WORDS`` dict) to the shared one.

    Pages that grew a vocabulary of their own keep it beside them; a key defined
    twice is a programming error and stops the import.
    """
    for module in pkgutil.iter_modules(_word_modules.__path__):
        area = importlib.import_module(f"{_word_modules.__name__}.{module.name}")
        words: dict[str, tuple[str, str]] = area.WORDS
        twice = sorted(set(words) & set(_WORDS))
        if twice:
            raise RuntimeError(f"words defined twice ({module.name}): {', '.join(twice)}")
        _WORDS.update(words)


_merge_area_words()


def text(key: str, lang: Lang) -> str:
    zh, en = _WORDS[key]
    return zh if lang == "zh" else en


def pick_lang(value: str | None) -> Lang:
    return "en" if value == "en" else DEFAULT_LANG


def keys() -> frozenset[str]:
    return frozenset(_WORDS)
