"""Portfolio accounting: positions, P&L, equity, drawdown. Pure; no I/O is imported here."""
