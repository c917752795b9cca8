"""Backtest reports: metrics, trade list, equity chart and a self-contained HTML page."""
