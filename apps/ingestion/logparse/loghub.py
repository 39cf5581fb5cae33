"""The logpai/loghub header syntax: `<Date> <Time> <Level> <Component>: <Content>`.

Angle-bracket names become named groups; everything between them is literal text, except
runs of spaces (one or more whitespace) and the backslash escapes the loghub settings use
(`\\[`). `<Content>` takes the rest of the line. This mirrors logparser's
`generate_logformat_regex`, which is what the published benchmarks use.
"""

from __future__ import annotations

import re

_FIELD = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)>")


def compile_log_format(log_format: str) -> tuple[re.Pattern[str], list[str]]:
    """Return (compiled regex, header field names) for a loghub log_format string."""
    parts = _FIELD.split(log_format)
    pattern = ""
    names: list[str] = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            literal = part.replace("\\", "")  # loghub escapes brackets as \[ ; treat literally
            chunks = re.split(r" +", literal)
            pattern += r"\s+".join(re.escape(c) for c in chunks)
        else:
            if part in names:
                raise ValueError(f"field <{part}> appears twice in log format")
            names.append(part)
            pattern += f"(?P<{part}>.*?)" if part != "Content" else f"(?P<{part}>.*)"
    if "Content" not in names:
        raise ValueError("log format needs a <Content> field")
    return re.compile("^" + pattern + "$", re.DOTALL), names
