"""The buyer's words: my cases, my points, the repair form and its problems, chats with the
brand, a case's story and the confirmation before withdrawing or closing.

Also the error sentences every page shows (``error.*`` beyond the first few), because
the buyer's pages brought them in; role names are in ``roles.py``.
"""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    # navigation
    "consumer.nav.cases": ("我的售后", "My cases"),
    "consumer.nav.points": ("我的积分", "My points"),
    "consumer.nav.chats": ("咨询记录", "My chats"),
    "consumer.nav.brand_chats": ("客服会话", "Customer chats"),
    "consumer.order": ("订单", "Order"),
    "consumer.you": ("您", "You"),
    # my cases
    "consumer.cases.title": ("我的售后", "My cases"),
    "consumer.cases.empty": (
        "还没有售后服务单。在“我的订单”里可以报修或一键求助。",
        "No cases yet. Report a fault or ask for help from My orders.",
    ),
    "consumer.cases.next_due": ("下一个截止时间", "Next deadline"),
    "consumer.cases.left": ("还剩", "left:"),
    "consumer.cases.overdue": ("已超时", "overdue by"),
    "consumer.cases.paid": ("已获赔付", "Paid to you:"),
    "consumer.cases.open": ("查看详情", "View case"),
    "consumer.list.next": ("下一页", "Next page"),
    "consumer.list.first": ("回到第一页", "First page"),
    "consumer.list.no_more": ("没有更多了。", "Nothing more."),
    # my points
    "consumer.points.title": ("我的积分", "My points"),
    "consumer.points.balance": ("积分余额（赔付所得）", "Balance (from payouts)"),
    "consumer.points.about": (
        "服务方或商家未履行承诺时，平台按规则自动赔付积分到您的账户（100 积分 = 1 元）。",
        "When a provider or shop misses a commitment, the platform pays points to your account "
        "by the rules (100 points = ¥1).",
    ),
    "consumer.points.empty": ("还没有赔付记录。", "No payouts yet."),
    "consumer.points.case": ("服务单", "Case"),
    # my orders: before pressing anything
    "consumer.window_notice": (
        "「{clock}」的承诺只适用于{window}内发起的求助（{rule}）。",
        "The commitment '{clock}' holds only for requests made within {window} ({rule}).",
    ),
    # the repair form (NW-2b)
    "consumer.repair.phone": ("联系电话", "Contact phone"),
    "consumer.repair.phone_hint": (
        "手机号或带区号的固话，如 0571-88888888",
        "Mobile, or landline with area code",
    ),
    "consumer.repair.address": ("服务地址", "Service address"),
    "consumer.repair.time": ("期望上门/联系时间", "Preferred time"),
    "consumer.repair.photos_again": (
        "出于安全原因，浏览器不会保留已选的照片，请重新选择。",
        "Browsers do not keep chosen files after sending: please choose the photos again.",
    ),
    "consumer.form.fix": ("请按提示修改后再提交。", "Please correct the fields marked below."),
    "consumer.problem.description.missing": (
        "请描述故障：出现了什么问题、从什么时候开始。",
        "Describe the fault: what happens, and since when.",
    ),
    "consumer.problem.phone.missing": (
        "请填写联系电话，方便品牌或安装师傅联系您。",
        "Give a phone number the brand or its installer can call.",
    ),
    "consumer.problem.phone.invalid": (
        "电话号码格式不对：请填写 11 位手机号，或带区号的固定电话，如 010-12345678、0571-8888888。",
        "That is not a phone number we can call: give an 11-digit mobile number, or a landline "
        "with its area code, like 010-12345678 or 0571-8888888.",
    ),
    "consumer.problem.address.missing": (
        "请填写商品所在的服务地址。",
        "Give the address where the item is.",
    ),
    "consumer.problem.address.too_long": (
        "地址太长了（最多 400 字）。",
        "The address is too long (400 characters at most).",
    ),
    "consumer.problem.preferred_time.too_long": (
        "期望时间太长了（最多 100 字）。",
        "The preferred time is too long (100 characters at most).",
    ),
    "consumer.problem.preferred_time.past": (
        "这个时间已经过去了，请选择之后的时间。",
        "That time has already passed; choose a later one.",
    ),
    "consumer.problem.photo_type": (
        "「{name}」不是可接受的照片：请上传 JPEG、PNG、WebP 图片或 PDF 文件。",
        "'{name}' is not a photo we accept: send a JPEG, PNG or WebP image, or a PDF.",
    ),
    "consumer.problem.photo_size": (
        "「{name}」太大了：每个文件最多 {limit} MB，请压缩后重新上传。",
        "'{name}' is too large: each file may be {limit} MB at most; send a smaller one.",
    ),
    "consumer.problem.message.missing": ("请输入要发送的内容。", "Write a message first."),
    "consumer.problem.message.too_long": (
        "消息太长了（最多 2000 字）。",
        "The message is too long (2,000 characters at most).",
    ),
    # chat with the brand's service centre (NW-3, NW-2c)
    "consumer.chat.ask": ("咨询品牌客服", "Ask the brand"),
    "consumer.chat.with": ("与「{brand}」售后服务中心的会话", "Chat with {brand}'s service centre"),
    "consumer.chat.about": (
        "可以咨询故障、保修条款和服务网点；需要维修时，会话可以直接转为报修单。",
        "Ask about a fault, the warranty terms or service centres; when a repair is needed, the "
        "chat can be turned into a repair report.",
    ),
    "consumer.chat.first": ("您想咨询什么？", "What would you like to ask?"),
    "consumer.chat.start": ("发起咨询", "Start the chat"),
    "consumer.chat.earlier": ("此前的咨询", "Earlier chats about this item"),
    "consumer.chat.list_title": ("咨询会话", "Chats"),
    "consumer.chat.none": ("还没有会话。", "No chats yet."),
    "consumer.chat.opened": ("发起于", "started"),
    "consumer.chat.message": ("消息", "Message"),
    "consumer.chat.send": ("发送", "Send"),
    "consumer.chat.reported": ("已转为报修单", "Turned into case"),
    "consumer.chat.report": ("转为报修单", "Turn into a repair report"),
    "consumer.chat.report_explain": (
        "转为报修单后，买家在会话中的描述即为故障描述，品牌须在 24 小时内响应（NW-2、NW-4）。",
        "The buyer's messages become the fault description, and the brand must respond within "
        "24 hours (NW-2, NW-4).",
    ),
    # a case: plan, result, contact, story
    "consumer.outcome.title": ("方案与处理结果", "Plan and outcome"),
    "consumer.outcome.plan": ("服务方案：", "The plan:"),
    "consumer.outcome.no_plan": (
        "服务方还没有给出方案，给出后会显示在这里。",
        "The provider has not given a plan yet; it will show here.",
    ),
    "consumer.outcome.said": ("{who}于 {at} 写道：", "{who} wrote at {at}:"),
    "consumer.outcome.resolve": ("处理结果：", "Resolution:"),
    "consumer.outcome.mark_repaired": ("维修结果：", "Repair result:"),
    "consumer.outcome.reject": ("不予受理的原因：", "Why it was declined:"),
    "consumer.outcome.ended": ("服务单已结束（{state}）。", "The case has ended ({state})."),
    "consumer.quote.issued": ("待您确认", "waiting for your answer"),
    "consumer.quote.accepted": ("已接受", "accepted"),
    "consumer.quote.declined": ("已拒绝", "declined"),
    "consumer.complaint.refused": ("不予受理", "not accepted"),
    "consumer.complaint.routed": ("已转商家处理", "passed to the shop"),
    "consumer.complaint.pending": ("待平台判定", "waiting for a decision"),
    "consumer.complaint.upheld": ("投诉成立", "upheld"),
    "consumer.complaint.dismissed": ("投诉不成立", "dismissed"),
    # confirmation before ending a case
    "consumer.confirm.title": ("请确认", "Please confirm"),
    "consumer.confirm.withdraw": ("确定撤销这次求助吗？", "Withdraw this request?"),
    "consumer.confirm.close": ("确定关闭这个服务单吗？", "Close this case?"),
    "consumer.confirm.explain_withdraw": (
        "撤销后服务方不再处理，计时停止，也不会再产生赔付。如果问题仍在，可以重新一键求助。",
        "Once withdrawn, the provider stops, the clocks stop and no payout can follow. If the "
        "problem comes back you can ask for help again.",
    ),
    "consumer.confirm.explain_close": (
        "关闭后品牌不再处理这次报修，计时停止。如果问题仍在，可以重新报修。",
        "Once closed, the brand stops working on this report and its clocks stop. You can "
        "report again if the fault remains.",
    ),
    "consumer.confirm.yes_withdraw": ("确定撤销", "Yes, withdraw"),
    "consumer.confirm.yes_close": ("确定关闭", "Yes, close"),
    "consumer.confirm.no": ("不了，返回服务单", "No, back to the case"),
    # error pages: one title, then what went wrong in the page's language
    "error.home": ("回到首页", "Home"),
    "error.invalid": (
        "填写的内容有误，请返回检查后重试。",
        "Something in the request cannot be used; go back, check it and try again.",
    ),
    "error.illegal": (
        "服务单当前的状态不允许这样操作，请刷新服务单查看最新进展。",
        "The case's current state does not allow that; reload the case to see where it stands.",
    ),
    "error.conflict": (
        "服务单刚刚被其他人更新了，请刷新后重试。",
        "Someone else changed this just now; reload and try again.",
    ),
    "error.too_large": ("上传的文件太大了。", "The upload is too large."),
    "error.media_type": (
        "不支持这种文件类型，请上传 JPEG、PNG、WebP 图片或 PDF。",
        "That type of file is not taken; send a JPEG, PNG or WebP image, or a PDF.",
    ),
    "error.throttled": (
        "尝试次数太多，请稍后再试。",
        "Too many attempts; wait a moment and try again.",
    ),
    "error.refused": ("按规则不能这样操作。", "The rules do not allow that."),
}
