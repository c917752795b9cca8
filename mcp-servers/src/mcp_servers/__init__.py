"""MCP servers over trading-core (market-data, trading, risk, portfolio)."""
