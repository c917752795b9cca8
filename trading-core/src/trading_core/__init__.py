"""trading-core: domain, guardrails, storage, bus, market data, paper broker and orchestrator."""

__version__ = "0.1.0"
