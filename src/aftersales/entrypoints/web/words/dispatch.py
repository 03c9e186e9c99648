"""Words of dispatch on the case page (OH-3): a provider declining, operations reassigning."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    "dispatch.title": ("指派", "Dispatch"),
    "dispatch.held_by": ("当前处理方", "Now handled by"),
    "dispatch.liable": (
        "无论转给谁，商家都承担责任（OH-3）。",
        "Whoever handles it, the merchant stays liable (OH-3).",
    ),
    "dispatch.decline": ("拒绝接单", "Decline the request"),
    "dispatch.decline_hint": (
        "求助将转给下一家符合条件的服务方，没有则交给商家。",
        "The request goes to the next qualified provider, or to the merchant if none.",
    ),
    "dispatch.reason": ("理由", "Reason"),
    "dispatch.qualified_now": ("现在符合条件的服务方（按得分）", "Qualified now, best first"),
    "dispatch.none_qualified": (
        "现在没有其他服务方符合条件。",
        "No other provider qualifies now.",
    ),
    "dispatch.reassign": ("改派", "Reassign"),
    "dispatch.reassign_to": ("改派给服务方（编号）", "To the provider (id)"),
    "dispatch.reassign_hint": (
        "该服务方必须覆盖此地址、品类和服务，当天未停业且仍有容量。",
        "The provider must cover this address, category and service, be open that day and "
        "have capacity left.",
    ),
    # problems beside the fields (codes the hand-over services give)
    "dispatch.problem.reason.missing": ("请填写理由。", "Give the reason."),
    "dispatch.problem.reason.too_long": (
        "理由请控制在 500 字以内。",
        "Keep the reason to 500 characters.",
    ),
    "dispatch.problem.provider.coverage": (
        "该服务方不覆盖此地址、品类和服务（OH-3），请换一家。",
        "That provider does not cover this address, category and service (OH-3); name another.",
    ),
    "dispatch.problem.provider.fulfilment": (
        "该服务方不以此服务接受的方式履约（OH-3）。",
        "That provider does not fulfil this service in an accepted way (OH-3).",
    ),
    "dispatch.problem.provider.calendar": (
        "该服务方当天停业或休假（OH-3）。",
        "That provider is closed or on leave that day (OH-3).",
    ),
    "dispatch.problem.provider.capacity": (
        "该服务方当天容量已满（OH-3）。",
        "That provider has no capacity left that day (OH-3).",
    ),
    "dispatch.problem.provider.already_assigned": (
        "求助已经在该服务方手中。",
        "The request is already with that provider.",
    ),
    "dispatch.problem.case.no_area": (
        "服务地址没有可用于指派的区域，请先更正地址。",
        "The service address has no area to dispatch by; correct the address first.",
    ),
    "dispatch.problem.case.not_dispatched": (
        "只有一键求助会被指派（OH-3）。",
        "Only help requests are dispatched (OH-3).",
    ),
}
