"""Words of uploads: how many photos one report takes and how large they may be together."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    "uploads.problem.too_many": (
        "一次最多上传 {limit} 个文件，您选了 {count} 个：请去掉一些后再提交。",
        "One report takes at most {limit} files and {count} were chosen: remove some and send "
        "again.",
    ),
    "uploads.problem.total_size": (
        "这些文件合计 {total} MB，超过了每次 {limit} MB 的上限：请少选几个或压缩后再提交。",
        "These files come to {total} MB together, over the {limit} MB a report takes: choose "
        "fewer or smaller ones.",
    ),
    "uploads.limits": (
        "最多 {count} 个文件，每个不超过 {each} MB，合计不超过 {total} MB。",
        "Up to {count} files, {each} MB each and {total} MB in all.",
    ),
}
