"""The words pages use for a treatment line: its category and agent as people write them.

The stored values are the machine's codes (``treatments.machine``: ``Category``, the agents
of ``machine.effects``); these are their display labels, one table each, so the admin, exports
and messages say ``¹⁷⁷Lu-DOTATATE`` rather than ``lu177_dotatate``. A code with no label here
is shown with its underscores as spaces, never hidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Protocol

from .machine import Category

CATEGORY_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        Category.SSA: "SSA",
        Category.PRRT: "PRRT",
        Category.EVEROLIMUS: "mTOR inhibitor",
        Category.CHEMOTHERAPY: "chemotherapy",
        Category.SUPPORTIVE: "supportive care",
    }
)

AGENT_LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "octreotide_lar": "octreotide LAR",
        "lanreotide": "lanreotide",
        "lu177_dotatate": "¹⁷⁷Lu-DOTATATE",
        "everolimus": "everolimus",
        "temozolomide": "temozolomide",
        "capecitabine_temozolomide": "capecitabine + temozolomide (CAPTEM)",
        "cisplatin_etoposide": "cisplatin + etoposide",
        "carboplatin_etoposide": "carboplatin + etoposide",
    }
)


class LineLike(Protocol):
    number: int
    category: str
    agent: str


# Words of the machine's codes that are written as acronyms.
ACRONYMS: Final[Mapping[str, str]] = MappingProxyType({"ssa": "SSA", "prrt": "PRRT"})


def _words(code: str) -> str:
    return code.replace("_", " ")


def code_words(code: str) -> str:
    """A state's or event's code in words, acronyms in capitals: ``"ssa_started"`` ->
    ``"SSA started"``, ``"residual_disease"`` -> ``"residual disease"``."""
    return " ".join(ACRONYMS.get(word, word) for word in code.split("_"))


def category_label(category: str) -> str:
    """``"prrt"`` -> ``"PRRT"``; an unknown code with spaces for underscores."""
    return CATEGORY_LABELS.get(category, _words(category))


def agent_label(agent: str) -> str:
    """``"lu177_dotatate"`` -> ``"¹⁷⁷Lu-DOTATATE"``; an unknown code with spaces for underscores."""
    return AGENT_LABELS.get(agent, _words(agent))


def line_title(line: LineLike) -> str:
    """``"Line 2 · ¹⁷⁷Lu-DOTATATE (PRRT)"``: number, agent and category (the category alone
    when the line names no agent: ``"Line 3 · supportive care"``)."""
    category = category_label(line.category)
    if not line.agent:
        return f"Line {line.number} · {category}"
    agent = agent_label(line.agent)
    if agent.lower() == category.lower():
        return f"Line {line.number} · {agent}"
    return f"Line {line.number} · {agent} ({category})"
