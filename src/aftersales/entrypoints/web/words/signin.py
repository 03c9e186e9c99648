"""Words of signing in that came with its throttling: the refusal while sign-ins wait."""

WORDS: dict[str, tuple[str, str]] = {
    "signin.throttled": (
        "登录失败次数过多，为保护账号已暂停登录。{wait}",
        "Too many failed sign-ins: signing in is paused to protect the account. {wait}",
    ),
    "signin.wait_seconds": ("请 {n} 秒后再试。", "Try again in {n} seconds."),
    "signin.wait_minutes": ("请 {n} 分钟后再试。", "Try again in {n} minutes."),
}
