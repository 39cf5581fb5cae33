"""Which physical lines continue the record before them.

A line without a header of its own continues the open record when it is part of a stack trace or
dump, whatever the source's format:

- Java: `\\tat com.x.Foo.bar(Foo.java:12)`, `Caused by: ...`, `Suppressed: ...`, `\\t... 5 more`,
  and the exception line itself (`java.lang.IllegalStateException: msg`) after a log line;
- Python: `Traceback (most recent call last):`, the indented `File ...` frames and source lines,
  the final `ValueError: msg` line, and the chained-exception separators;
- Go: `panic: ...` / `fatal error: ...`, `goroutine 1 [running]:`, the `pkg.fn(...)` lines and their
  tab-indented `/path/file.go:12 +0x1d` frames, `created by ...`, `exit status 2`, blank lines
  between goroutines;
- Node: `    at fn (file.js:1:2)` frames (indented, like every other indented line).

In a source whose format has headers, any unheaded line continues the record (the parser applies
that rule; this module only knows the stack shapes). Records never span sources: the parser
runs one tracker per source.
"""

from __future__ import annotations

import re
from enum import Enum

# Bounds: a runaway "record" is cut into several rather than growing without limit.
MAX_RECORD_LINES = 2000
MAX_RECORD_CHARS = 1 << 20


class Stack(Enum):
    NONE = 0
    PYTHON = 1  # inside a traceback, before its final exception line
    PYTHON_END = 2  # after the final line: chained-exception separators may follow
    GO = 3  # inside a panic / goroutine dump


TRACEBACK = "Traceback (most recent call last):"
_OPENERS = ("panic: ", "fatal error: ", "goroutine ", 'Exception in thread "')
_CONT_PREFIXES = ("Caused by:", "Suppressed:", "... ", "\tat ", "\t...")
_PY_CHAIN = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
_PY_FINAL = re.compile(r"[A-Za-z_][\w.]{0,200}(?::|$)")
_GO_START = ("panic: ", "fatal error: ", "goroutine ")
_GO_FRAME = re.compile(r"[\w./\-*()\[\]{}]{1,512}\(.{0,4096}\)(?: \+0x[0-9a-f]+)?$")
_GO_LINE = ("goroutine ", "created by ", "[signal ", "exit status ", "panic(", "runtime.", "main.")
_JAVA_EXCEPTION = re.compile(
    r"(?:Exception in thread \"[^\"]{0,256}\" )?(?:[a-z_$][\w$]{0,64}\.){1,16}[A-Z][\w$]{0,128}(?:Exception|Error|Throwable)\b"
)
_NODE_ERROR = re.compile(r"(?:[A-Z][a-zA-Z]{0,64})?Error(?: \[[A-Z_]{1,64}\])?: ")


class StackTracker:
    """Per-source state: are we inside a Python traceback or a Go dump?"""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = Stack.NONE

    def reset(self) -> None:
        self.state = Stack.NONE

    def starts_stack(self, text: str) -> None:
        """A line that begins a new record may open a stack (a bare `panic:` in plain output)."""
        if text.startswith(TRACEBACK):
            self.state = Stack.PYTHON
        elif text.startswith(_GO_START):
            self.state = Stack.GO
        else:
            self.state = Stack.NONE

    def continues(self, text: str) -> bool:
        """True when `text` (a line with no header) continues the open record."""
        state = self.state
        if not text or text.isspace():
            return state is not Stack.NONE  # blank lines inside tracebacks and dumps
        c0 = text[0]
        if state is Stack.PYTHON:
            if c0 in " \t":
                return True
            if _PY_FINAL.match(text):
                self.state = Stack.PYTHON_END
                return True
            self.state = Stack.NONE
            return False
        if state is Stack.PYTHON_END:
            if text.startswith(_PY_CHAIN) or c0 in " \t":
                return True
            if text.startswith(TRACEBACK):
                self.state = Stack.PYTHON
                return True
            self.state = Stack.NONE
            # fall through: the generic shapes below may still apply
        if state is Stack.GO:
            if c0 in " \t" or text.startswith(_GO_LINE) or _GO_FRAME.match(text):
                if text.startswith("exit status "):
                    self.state = Stack.NONE
                return True
            self.state = Stack.NONE
            return False
        if c0 in " \t":
            return True
        if text.startswith(_CONT_PREFIXES):
            return True
        if text.startswith(TRACEBACK):
            self.state = Stack.PYTHON  # continues a header source's record (logger.exception)
        return False

    def opens(self, text: str) -> bool:
        """A Go panic or an uncaught Java exception starts its own record, header or not."""
        return text.startswith(_OPENERS)


def looks_continued(text: str) -> bool:
    """Stateless: an indented line or a stack-trace marker (used when sampling for detection)."""
    return text[:1] in (" ", "\t") or text.startswith(_CONT_PREFIXES)


def starts_exception(text: str) -> bool:
    """A Java/Node exception line (`java.lang.X: msg`, `TypeError: msg`) that opens a stack."""
    return bool(_JAVA_EXCEPTION.match(text) or _NODE_ERROR.match(text))
