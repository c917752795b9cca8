"""marketdata."""
