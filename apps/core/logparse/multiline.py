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

In a source whose format has headers, an unheaded line continues the record unless it starts a
new one: a line another format parses, a line that begins with a timestamp, or the first line
after a Java or Go stack that is not part of it (`kubectl describe` text after an exception).

Headed lines join too when their message (the header stripped) continues a block: the kernel
prints an OOM report or a call trace one record per line, each with its own header. `block_shape`
tells a frame (`dump_header+0x4a/0x1f0`, an indented line, `<TASK>`) from a table or register
row (`active_anon:239 inactive_anon:6955`, `[  412]  0  412  35263 …`, `Code: f3 0f 1e fa …`),
which only joins inside a block a section title (`Call Trace:`, `Mem-Info:`) or a frame opened.

Only shapes are known here, never a program's words. Records never span sources: the parser
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
    JAVA = 4  # after a `\tat ...` frame: only frames, causes and `... N more` follow


# What `StackTracker.continues` says about an unheaded line.
NO = 0  # not a continuation (another format or a record of its own may claim it)
WEAK = 1  # continues unless it starts a record of its own (parser.py checks)
STRONG = 2  # part of a stack: joined without further checks
ENDS = 3  # the stack before it is over and this line is not part of it: a new record


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
_JAVA_CONT = ("Caused by:", "Suppressed:", "... ", "\tat ", "\t...", "at ")

# -- the start of a record in any format -------------------------------------------------------
# A date or a time of day at the very start (an optional `[` or `<pri>` before it), a klog
# stamp, or a bracketed level.
_STAMP_START = re.compile(
    r"(?:<\d{1,3}>|\[)?(?:\d{4}[-/.]\d\d[-/.]\d\d[ T_]?|\d\d[-/]\d\d[-/ T]\d|\d{6}[ -]\d"
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:|\d\d:\d\d:\d\d"
    r"|[A-Z][a-z]{2},? (?:\d\d? [A-Z][a-z]{2}|[A-Z][a-z]{2} [ \d]\d) "
    r"|[DIWEF]\d{4} \d\d:\d\d:\d\d"  # klog/glog `I0625 15:27:01.584519`
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d\d?, \d{4},? \d"  # JUL's US date
    # a level in brackets: `[INFO] Reloading` between a program's dated lines
    r"|(?i:(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|CRIT|CRITICAL|FATAL|PANIC)\]\s))"
)

# -- the blocks of headed lines (kernel reports) -----------------------------------------------
# `dump_header+0x4a/0x1f0`, `? __alloc_pages+0x2df/0x326 [xfs]`, ARM `(out_of_memory+0x0/0x348)`
_KERNEL_FRAME = re.compile(r"[\w.$]\+0x[0-9a-fA-F]{1,16}/0x[0-9a-fA-F]{1,16}")
# frames of other runtimes once a header stripped their indentation
_FRAME = re.compile(
    r"(?:at [\w$.<>/\-]{1,512}\(.{0,2048}\)|\.\.\. \d+ \w"  # Java / Node
    r'|File ".{1,4096}", line \d+'  # Python
    r"|\S{1,1024}\.go:\d+(?: \+0x[0-9a-f]+)?(?: |$))"  # Go
)
_TAG_LINE = re.compile(r"\s{0,8}</?[A-Z]{2,12}>\s*$")  # <TASK>, </IRQ>, <NMI>
_KEY_NUMBER = re.compile(
    r"[A-Za-z_][\w\[\]\-]{0,63}[:=] ?-?(?:0x)?[0-9a-fA-F]"
)  # rss:4288kB, EFLAGS: 00000246
_TABLE_ROW = re.compile(r"\s{0,8}\[\s{0,16}\w{1,16}\s{0,16}\]\s")  # `[  pid  ]   uid`, `[    412]`
_NUMERIC = re.compile(r"[(\[]?[0-9a-fA-Fx*.#:,/+\-]{1,40}[a-zA-Z]{0,2}[)\]:,]?$")
SECTION_MAX = 80  # a section title (`Tasks state (memory values in pages):`) is short
# The first line of a kernel report (dump_header, BUG, oops, hung task, panic): the `Key: value`
# rows and the sections that follow it belong to it (`CPU: 1 PID: 42 Comm: x`, `Hardware name:`)
_REPORT_START = re.compile(
    r"invoked oom-killer:|BUG: |Oops: |general protection fault|kernel BUG at |"
    r"WARNING: CPU: \d+ PID: |INFO: task .{1,64} blocked for more than |Kernel panic - "
)
_KEY_VALUE_ROW = re.compile(
    r"[A-Z][a-z]{1,20}(?: [a-z]{1,20})?: \S"
)  # `Hardware name: …` inside a report


class Shape(Enum):
    NONE = 0  # a message of its own
    ROW = 1  # a table / register row or a section title: joins an open block
    FRAME = 2  # a frame or an indented line: joins the record before it (same stream)


def block_shape(message: str) -> Shape:
    """The shape of a headed line's message, for joining it to the record before it."""
    if not message:
        return Shape.NONE
    if message[0] in " \t":
        return Shape.FRAME if message.strip() else Shape.NONE
    if "+0x" in message and _KERNEL_FRAME.search(message, 0, 512):
        return Shape.FRAME
    if _FRAME.match(message) or _TAG_LINE.match(message):
        return Shape.FRAME
    if len(message) <= SECTION_MAX and message.endswith(":"):
        return Shape.ROW
    if _TABLE_ROW.match(message) or starts_exception(message) or _KEY_VALUE_ROW.match(message):
        return Shape.ROW  # a table row; a cause's exception line after `Caused by:`
    if len(_KEY_NUMBER.findall(message, 0, 1024)) >= 2:
        return Shape.ROW
    words = message.split(None, 32)
    numbers = sum(1 for w in words[1:] if _NUMERIC.match(w))
    if (len(words) >= 2 and numbers == len(words) - 1) or (
        len(words) >= 4 and numbers * 4 >= len(words) * 3
    ):
        return (
            Shape.ROW
        )  # `RIP: 0033:0x7f7fb0b1a9ca`, `Code: f3 0f 1e fa …`, `lowmem_reserve[]: 0 2991`
    return Shape.NONE


def opens_block(message: str) -> bool:
    """A section title (`Call Trace:`, `Mem-Info:`): the rows after it belong to it."""
    return 0 < len(message) <= SECTION_MAX and message.endswith(":") and message[0] not in " \t"


def starts_report(message: str) -> bool:
    """The first line of a kernel report: its rows and sections join it."""
    return _REPORT_START.search(message, 0, 160) is not None


def starts_record(text: str) -> bool:
    """An unheaded line that still looks like the start of a record: it begins with a date or
    a time (a format the catalogue does not know)."""
    return _STAMP_START.match(text) is not None


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

    def continues(self, text: str) -> int:
        """NO, WEAK, STRONG or ENDS for `text`, a line with no header, after the open record."""
        state = self.state
        if not text or text.isspace():
            # blank lines inside tracebacks and dumps; elsewhere the parser decides
            return STRONG if state is not Stack.NONE else NO
        c0 = text[0]
        if state is Stack.PYTHON:
            if c0 in " \t":
                return STRONG
            if _PY_FINAL.match(text):
                self.state = Stack.PYTHON_END
                return STRONG
            self.state = Stack.NONE
            return NO
        if state is Stack.PYTHON_END:
            if text.startswith(_PY_CHAIN):
                return STRONG
            if c0 in " \t":
                return WEAK
            if text.startswith(TRACEBACK):
                self.state = Stack.PYTHON
                return STRONG
            self.state = Stack.NONE
            # fall through: the generic shapes below may still apply
        if state is Stack.GO:
            if (
                c0 in " \t"
                or text.startswith(_GO_LINE)
                or _GO_FRAME.match(text)
                or opens_block(text)  # `runtime stack:`
            ):
                if text.startswith("exit status "):
                    self.state = Stack.NONE
                return STRONG
            self.state = Stack.NONE
            return ENDS
        if state is Stack.JAVA:
            if c0 in " \t" or text.startswith(_JAVA_CONT) or starts_exception(text):
                return STRONG
            self.state = Stack.NONE
            return ENDS  # the stack is over: text after it is a record of its own
        if c0 in " \t":
            stripped = text.lstrip()
            if stripped.startswith(("at ", "...")):
                self.state = Stack.JAVA
                return STRONG
            return WEAK
        if text.startswith(_CONT_PREFIXES):
            if text.startswith(("\tat ", "\t...", "... ")):
                self.state = Stack.JAVA
            return STRONG
        if text.startswith(TRACEBACK):
            self.state = Stack.PYTHON  # continues a header source's record (logger.exception)
        return NO

    def opens(self, text: str) -> bool:
        """A Go panic or an uncaught Java exception starts its own record, header or not."""
        return text.startswith(_OPENERS)


def looks_continued(text: str) -> bool:
    """Stateless: an indented line or a stack-trace marker (used when sampling for detection)."""
    return text[:1] in (" ", "\t") or text.startswith(_CONT_PREFIXES)


def starts_exception(text: str) -> bool:
    """A Java/Node exception line (`java.lang.X: msg`, `TypeError: msg`) that opens a stack."""
    return bool(_JAVA_EXCEPTION.match(text) or _NODE_ERROR.match(text))
