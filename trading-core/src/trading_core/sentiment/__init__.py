"""Headline sentiment: headlines read from files, scored by a lexicon or a FinBERT-style model,
and served point in time (a headline counts only for bars that close after it)."""
