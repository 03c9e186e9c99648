"""The name of each role as people read it: beside the signed-in person's name, in a case's
history, beside a chat message (the records keep the codes)."""

WORDS: dict[str, tuple[str, str]] = {
    "role.consumer": ("买家", "Buyer"),
    "role.provider": ("服务商", "Service provider"),
    "role.merchant": ("商家", "Merchant"),
    "role.brand": ("品牌", "Brand"),
    "role.agent": ("热线坐席", "Hotline agent"),
    "role.operations": ("平台运营", "Operations"),
    "role.system": ("平台", "Platform"),
    "role.integration": ("系统对接", "Integration"),
}
