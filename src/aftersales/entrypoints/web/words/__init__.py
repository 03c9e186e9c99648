"""Per-area word catalogues merged into :mod:`aftersales.entrypoints.web.i18n`.

Each module holds ``WORDS: dict[str, tuple[str, str]]`` (key → (zh-CN, en)).
"""
