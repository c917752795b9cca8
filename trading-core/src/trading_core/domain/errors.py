"""Errors with stable codes that callers (CLI, MCP tools) can rely on."""

from __future__ import annotations


class TradingError(Exception):
    """Base error: ``code`` is stable, ``message`` is safe to show a user.

    ``message`` is worded for MCP clients (it may name a tool's parameters); ``cli_message`` says
    the same to a person at the command line (its flags and commands). Without one given, both
    read the same.
    """

    code = "TRADING_ERROR"

    def __init__(
        self, message: str, *, code: str | None = None, cli_message: str | None = None
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.cli_message = message if cli_message is None else cli_message


class ConfigurationError(TradingError):
    code = "CONFIGURATION_ERROR"


class DataError(TradingError):
    """Market data could not be read or failed validation."""

    code = "DATA_ERROR"


class InstrumentNotFoundError(TradingError):
    code = "INSTRUMENT_NOT_FOUND"


class StorageUnavailableError(TradingError):
    code = "STORAGE_UNAVAILABLE"


class BusUnavailableError(TradingError):
    code = "BUS_UNAVAILABLE"


class BrokerError(TradingError):
    code = "BROKER_ERROR"


class OrderNotFoundError(BrokerError):
    code = "ORDER_NOT_FOUND"


class DuplicateOrderError(TradingError):
    code = "DUPLICATE_ORDER"


class OrderGateBusy(TradingError):
    """Another process held the account's order gate for longer than the timeout: not sent."""

    code = "ORDER_GATE_BUSY"


class ToolsUnavailableError(TradingError):
    """The tools a run places orders through cannot be reached (an MCP suite that is down).

    Nothing was decided by the tools: the run records the decision as refused and places
    nothing until they answer again (it never guesses what a request it could not make did).
    """

    code = "TOOLS_UNAVAILABLE"
