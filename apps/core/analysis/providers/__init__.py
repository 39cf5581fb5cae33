"""Analysis providers behind one small interface, and the orchestration that validates them."""

from .base import AnalysisProvider, ConnectionCheck, ProviderError, ProviderResult, Repair, Usage
from .local import LocalProvider, build_local_answer
from .openai_compat import OpenAICompatibleProvider
from .run import run_analysis

__all__ = [
    "AnalysisProvider",
    "ConnectionCheck",
    "LocalProvider",
    "OpenAICompatibleProvider",
    "ProviderError",
    "ProviderResult",
    "Repair",
    "Usage",
    "build_local_answer",
    "run_analysis",
]
