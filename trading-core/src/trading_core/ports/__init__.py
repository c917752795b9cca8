"""Ports: the typing.Protocol interfaces that adapters implement and the core depends on."""
