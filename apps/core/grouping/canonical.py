"""A template written the way the field writes templates (Khan et al., ICSE'22; Loghub-2.0).

The miner's template says which tokens varied in the lines it saw. Its spelling follows the
masks: `<*>:<*>` for a host and its port, `blk_<*>` for an id with a prefix, `true` where a
flag happened to be the same in every line. The published guidelines for templates say a
variable is one `<*>` however it is punctuated, and name the kinds of value that are always
variables. This module rewrites a template to that convention, for display and export; the
template id and the group fingerprint are computed from the miner's own template, so they do
not change. Rules, in the guidelines' order:

- DS  runs of white space are one space;
- PS  a path (`/var/log/x`) is a variable;
- BL  a boolean (`true`, `false`), US the default user names (`null`, `root`, `admin`);
- DG  a run of digits between delimiters is a variable;
- WV  a token joined to a variable (`blk_<*>`, `<*>ms`) is one variable;
- DV  variables separated by dots (`<*>.<*>`), CV adjacent ones (`<*><*>`), `#<*>#` and
  `<*>:<*>` are one variable.

No rule names a system's vocabulary; the cost is paid once per template text (memoised).
"""

from __future__ import annotations

import re
from functools import lru_cache

VAR = "<*>"
_PATH_DELIMITERS = re.compile(r"([\s,!;:=|\"'\[\](){}])")
_TOKEN_DELIMITERS = re.compile(r"([\s,!;:=|\"'\[\](){}.\-+@#$%&])")
_PATH = re.compile(r"(?:/[^/]+)+")
_DIGITS = re.compile(r"\d+")
_JOINED = re.compile(r"[^\s/]*<\*>[^\s/]*")
_SPACES = re.compile(r"\s+")
_ALWAYS_VARIABLE = frozenset(("true", "false", "null", "root", "admin"))
_MERGES = ("<*>.<*>", "<*><*>", "#<*>#", "<*>:<*>")
_RATIO = "<*>/<*>"  # two values with a slash: `/` is no delimiter, so the ratio stays two


@lru_cache(maxsize=65536)
def canonical(template: str) -> str:
    """`template` in the guidelines' spelling (see the module docstring)."""
    text = _SPACES.sub(" ", template.strip())
    if "/" in text:
        text = "".join(VAR if _PATH.fullmatch(p) else p for p in _PATH_DELIMITERS.split(text))
    tokens = _TOKEN_DELIMITERS.split(text)
    for i, token in enumerate(tokens):
        if not token or (len(token) == 1 and not token.isalnum()):
            continue
        if (
            token.lower() in _ALWAYS_VARIABLE
            or _DIGITS.fullmatch(token)
            or (VAR in token and token != _RATIO and _JOINED.fullmatch(token))
        ):
            tokens[i] = VAR
    text = "".join(tokens)
    for merge in _MERGES:
        while merge in text:
            text = text.replace(merge, VAR)
    return text
