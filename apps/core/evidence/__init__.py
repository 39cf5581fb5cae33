"""Evidence packs: the redacted, numbered raw lines (and facts) an analysis may see."""

from .builder import DEFAULT_TOKEN_BUDGET, LineSource, build_evidence_pack, sanitise_line
from .prompt import SYSTEM_PROMPT, render_prompt
from .tokens import estimate_messages, estimate_tokens
from .types import ROLES, EvidenceItem, EvidencePack, GroupInput, Role, as_ref

__all__ = [
    "DEFAULT_TOKEN_BUDGET",
    "ROLES",
    "SYSTEM_PROMPT",
    "EvidenceItem",
    "EvidencePack",
    "GroupInput",
    "LineSource",
    "Role",
    "as_ref",
    "build_evidence_pack",
    "estimate_messages",
    "estimate_tokens",
    "render_prompt",
    "sanitise_line",
]
