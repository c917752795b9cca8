"""Trading agents loaded by trading-core by name through the `trading_core.agents` entry point."""
