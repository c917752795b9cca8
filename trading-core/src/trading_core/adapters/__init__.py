"""Adapters: implementations of the ports (storage, bus, brokers, clocks, metrics)."""
