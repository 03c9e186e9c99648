"""Words of the field pages: the installer's queue and case tools, the hotline desk."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    # the customer's contact
    "field.contact": ("客户与上门信息", "Customer and visit"),
    "field.customer": ("客户", "Customer"),
    "field.phone": ("电话", "Phone"),
    "field.address": ("服务地址", "Service address"),
    "field.caller": ("来电人", "Caller"),
    "field.masked_note": (
        "联系方式已隐藏：仅指派的服务方与平台运营可见完整姓名、电话和地址。",
        "Contact details are hidden: only the assigned handler and operations see the full "
        "name, phone and address.",
    ),
    "field.call": ("拨打", "Call"),
    "field.no_contact": ("暂无联系方式。", "No contact details."),
    # the visit
    "field.appointment": ("约定上门时间", "Agreed visit"),
    "field.appointment_none": ("尚未约定", "not booked yet"),
    "field.appointment_set": ("约定上门时间", "Book the visit"),
    "field.appointment_change": ("修改上门时间", "Change the visit"),
    "field.appointment_when": ("上门日期和时间", "Date and time of the visit"),
    "field.appointment_hint": (
        "与买家约定后填写（当地时间 07:00–22:00，90 天内）。买家会在服务单上看到。",
        "Enter it once agreed with the buyer (local time 07:00–22:00, within 90 days). "
        "The buyer sees it on the case.",
    ),
    "field.appointment_missing": (
        "请填写上门的日期和时间。",
        "Enter the date and time of the visit.",
    ),
    "field.appointment_unreadable": (
        "无法识别这个时间，请按“年-月-日 时:分”填写。",
        "This time cannot be read; write it as year-month-day hour:minute.",
    ),
    "field.appointment_past": (
        "上门时间必须晚于现在。",
        "The visit must be later than now.",
    ),
    "field.appointment_too_far": (
        "上门时间须在 90 天之内。",
        "The visit must be within 90 days.",
    ),
    "field.appointment_night": (
        "上门时间须在当地 07:00–22:00 之间。",
        "The visit must be between 07:00 and 22:00 local time.",
    ),
    "field.appointment_closed": (
        "服务单已结束，不能再约定上门。",
        "The case has ended; no visit can be booked.",
    ),
    # solution texts
    "field.solutions": ("常用解决方案", "Saved solutions"),
    "field.solutions_intro": (
        "保存常用的解决方案文字，给出方案时直接选用，选用后仍可修改。",
        "Keep the solution texts you use often and pick one when giving a solution; "
        "you can still edit it after picking.",
    ),
    "field.solution_pick": ("选用常用方案", "Pick a saved solution"),
    "field.solution_none": ("（不选用）", "(none)"),
    "field.solution_manage": ("管理常用方案", "Manage saved solutions"),
    "field.solution_title": ("标题", "Title"),
    "field.solution_body": ("方案内容", "Solution text"),
    "field.solution_add": ("保存新方案", "Save a new solution"),
    "field.solution_save": ("保存修改", "Save changes"),
    "field.solution_delete": ("删除", "Delete"),
    "field.solution_delete_confirm": ("确定删除这条常用方案？", "Delete this saved solution?"),
    "field.solution_empty": ("还没有常用方案。", "No saved solutions yet."),
    "field.solution_title_empty": ("请填写标题。", "Enter a title."),
    "field.solution_title_too_long": (
        "标题不能超过 40 个字。",
        "The title is at most 40 characters.",
    ),
    "field.solution_body_empty": ("请填写方案内容。", "Enter the solution text."),
    "field.solution_body_too_long": (
        "方案内容不能超过 1000 个字。",
        "The solution text is at most 1,000 characters.",
    ),
    "field.solution_owner_too_many": (
        "最多保存 50 条常用方案，请先删除不用的。",
        "At most 50 saved solutions; delete one you no longer use first.",
    ),
    "field.solution_saved": ("已保存。", "Saved."),
    "field.note_required": (
        "请填写说明（方案、原因或处理结果）。",
        "Write a note (the plan, the reason or the result).",
    ),
    # exemptions
    "field.pause_choose": ("选择计时项与免责事由", "Commitment and exemption"),
    # history
    "field.history": ("处理经过", "What happened"),
    "field.history_empty": ("暂无记录。", "Nothing yet."),
    "field.explanations": ("时效判定与说明", "Commitment decisions"),
    # the queue
    "field.queue_customer": ("客户与地址", "Customer and address"),
    "field.queue_visit": ("上门", "Visit"),
    # the hotline desk
    "field.agent_search": (
        "来电号码 / 买家姓名或账号 / 订单号 / 商品行号",
        "Caller's phone / buyer name or account / order id / item id",
    ),
    "field.agent_hint": (
        "按来电号码查找时，会找出该号码的买家、订单以及曾用该号码回拨的报修。",
        "A phone number finds the buyer, the orders and earlier reports with that callback number.",
    ),
    "field.agent_none": (
        "没有找到与“{q}”相关的订单。请核对号码或请来电人提供订单号。",
        "Nothing found for “{q}”. Check the number or ask the caller for the order id.",
    ),
    "field.agent_items": ("来电人的商品", "The caller's items"),
    "field.agent_cases": ("来电人的服务单", "The caller's cases"),
    "field.agent_no_cases": ("来电人还没有服务单。", "The caller has no cases yet."),
    "field.agent_buyer": ("买家", "Buyer"),
    "field.agent_order": ("订单", "Order"),
    "field.agent_bought": ("购买日期", "Bought on"),
    "field.agent_open_case": (
        "该商品已有进行中的服务单 {case}（{state}）：提交的内容将追加到这张服务单，不会新建。",
        "This item already has an open case {case} ({state}): what you file is added to "
        "it; no new case is opened.",
    ),
    "field.agent_caller_name": ("来电人称呼", "Caller's name"),
    "field.agent_callback": ("回拨电话", "Callback phone"),
    "field.agent_callback_hint": (
        "手机 11 位，或带区号的固定电话，如 0571-88881234",
        "11-digit mobile, or a landline with its area code, e.g. 0571-88881234",
    ),
    "field.agent_callback_invalid": (
        "回拨电话格式不对：请填写 11 位手机号，或带区号的固定电话（如 0571-88881234）。",
        "The callback phone is not valid: give an 11-digit mobile or a landline with its area "
        "code (e.g. 0571-88881234).",
    ),
    "field.agent_fault": ("来电反映的问题", "What the caller reports"),
    "field.agent_fault_empty": (
        "请记录来电人反映的问题。",
        "Write down what the caller reports.",
    ),
    "field.agent_file": ("代为报修", "File the report"),
    "field.agent_add": ("追加到该服务单", "Add to the open case"),
    "field.agent_not_nw": (
        "该商品没有全国联保标识，不能通过热线报修。",
        "This item has no national-warranty badge, so it cannot be reported on the hotline.",
    ),
    "field.agent_noted": (
        "该商品已有进行中的服务单，来电内容已追加到这张服务单（没有新建服务单）。",
        "The item already had an open case: the call was added to it (no new case).",
    ),
    "field.agent_filed": ("已为来电人报修。", "The report was filed for the caller."),
    "field.agent_fix": (
        "请修改标出的内容后再提交。",
        "Correct the marked fields and submit again.",
    ),
    "field.col_case": ("服务单", "Case"),
    "field.col_product": ("商品", "Product"),
    "field.col_state": ("状态", "State"),
    "field.col_opened": ("发起时间", "Opened"),
    "field.col_next_due": ("最近截止", "Next deadline"),
    "field.sandbox": ("沙盒", "sandbox"),
}
