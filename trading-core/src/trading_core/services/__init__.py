"""Application services: what the MCP servers, the CLI and (later) Telegram call.

They compose the layers below (storage, market data, risk, execution, portfolio) into the
operations a caller asks for, and enforce who may do what (principals and approvals).
"""
