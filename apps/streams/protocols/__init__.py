"""Framework-free decoders for the log shipping protocols we accept (no Django here).

Each decoder turns a request body (already bounded and decompressed by `bodies`) into a list of
`StreamRecord`s, or raises a `ProtocolError` whose `status` is the HTTP answer: `Malformed`
(400; `TooDeep` and `LabelTooLong` are kinds of it), `TooLarge` (413), `Unsupported` (415).
"""

from .record import (
    DEFAULT_LIMITS,
    LabelTooLong,
    Limits,
    Malformed,
    ProtocolError,
    StreamRecord,
    TooDeep,
    TooLarge,
    Unsupported,
)

__all__ = [
    "DEFAULT_LIMITS",
    "LabelTooLong",
    "Limits",
    "Malformed",
    "ProtocolError",
    "StreamRecord",
    "TooDeep",
    "TooLarge",
    "Unsupported",
]
