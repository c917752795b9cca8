"""A small finance lexicon: the scorer used when no model is configured.

Words are counted, not understood: the score is (positive - negative) / (positive + negative)
over the headline's words, 0 when it has none of either. A negation right before a word
("not", "no", "never", "without") flips it. The word lists are this project's own, chosen
for headline language (earnings, ratings, deals, enforcement), not a published dictionary.
"""

from __future__ import annotations

import re

POSITIVE = frozenset(
    [
        "beat",
        "beats",
        "boost",
        "boosts",
        "bullish",
        "climb",
        "climbs",
        "gain",
        "gains",
        "growth",
        "jump",
        "jumps",
        "outperform",
        "outperforms",
        "profit",
        "profitable",
        "rally",
        "rallies",
        "record",
        "recover",
        "recovers",
        "rise",
        "rises",
        "soar",
        "soars",
        "strong",
        "surge",
        "surges",
        "upgrade",
        "upgraded",
        "upgrades",
        "approval",
        "approve",
        "approved",
        "approves",
        "breakthrough",
        "exceed",
        "exceeds",
        "expand",
        "expands",
        "optimistic",
        "raise",
        "raises",
        "rebound",
        "rebounds",
        "win",
        "wins",
        "adoption",
        "inflows",
        "partnership",
    ]
)
NEGATIVE = frozenset(
    [
        "bearish",
        "collapse",
        "collapses",
        "crash",
        "crashes",
        "cut",
        "cuts",
        "decline",
        "declines",
        "default",
        "defaults",
        "downgrade",
        "downgraded",
        "downgrades",
        "drop",
        "drops",
        "fall",
        "falls",
        "fraud",
        "hack",
        "hacked",
        "lawsuit",
        "loss",
        "losses",
        "miss",
        "misses",
        "plunge",
        "plunges",
        "probe",
        "recall",
        "sell-off",
        "selloff",
        "slump",
        "slumps",
        "tumble",
        "tumbles",
        "weak",
        "warning",
        "warns",
        "bankruptcy",
        "ban",
        "banned",
        "bans",
        "fine",
        "fined",
        "investigation",
        "layoffs",
        "outflows",
        "delay",
        "delays",
        "halt",
        "halts",
        "exploit",
    ]
)
NEGATIONS = frozenset({"not", "no", "never", "without"})
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)?")


def lexicon_score(text: str) -> float:
    """The headline's sentiment in [-1, 1] from its words (0: none of the lexicon's)."""
    positive = negative = 0
    negated = False
    for word in _WORD.findall(text.lower()):
        if word in NEGATIONS:
            negated = True
            continue
        sign = 1 if word in POSITIVE else -1 if word in NEGATIVE else 0
        if negated:
            sign = -sign
        negated = False
        positive += sign > 0
        negative += sign < 0
    total = positive + negative
    return (positive - negative) / total if total else 0.0
