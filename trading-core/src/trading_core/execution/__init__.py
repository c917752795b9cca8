"""Execution: the only path to a broker (the order service) and the paper broker."""
