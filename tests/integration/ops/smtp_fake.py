"""A local SMTP server (real TCP, asyncio) that keeps every message it is given.

It speaks the exchange of RFC 5321 section 3 ("The SMTP Procedures") with the replies of its
section 4.2: the ``220`` greeting, ``EHLO``/``HELO`` answered ``250`` (this server offers no
extension: no STARTTLS, no AUTH, so a client that only authenticates where AUTH is offered, as
Alertmanager's email notifier does, sends without), ``MAIL FROM``/``RCPT TO`` ``250``, ``DATA``
``354`` then the message up to the line holding a single ``.`` (with the dot-stuffing of
section 4.5.2 undone), ``250``; ``RSET``/``NOOP`` ``250``, ``QUIT`` ``221``; anything else
``502``. A message is kept as parsed by the standard library's ``email`` parser.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage


@dataclass
class SmtpFake:
    """The server's state: each message received, with its envelope."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def start(self) -> SmtpFake:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def wait_for(self, count: int, timeout: float = 30.0) -> list[EmailMessage]:
        """The first ``count`` messages, waiting for them (bounded)."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.messages) >= count)
        return [message for _, message in self.messages[:count]]

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write(f"{line}\r\n".encode())
            await writer.drain()

        recipients: list[str] = []
        try:
            await reply("220 smtp-fake ESMTP")
            while line := await reader.readline():
                verb = line.decode(errors="replace").strip().split(" ", 1)[0].upper()
                if verb in {"EHLO", "HELO"}:
                    await reply("250 smtp-fake")
                elif verb == "MAIL":
                    recipients = []
                    await reply("250 OK")
                elif verb == "RCPT":
                    recipients.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                    await reply("250 OK")
                elif verb == "DATA":
                    await reply("354 End data with <CR><LF>.<CR><LF>")
                    await self._keep(recipients, await _data(reader))
                    await reply("250 OK: queued")
                elif verb in {"RSET", "NOOP"}:
                    await reply("250 OK")
                elif verb == "QUIT":
                    await reply("221 Bye")
                    break
                else:
                    await reply("502 Command not implemented")
        finally:
            writer.close()

    async def _keep(self, recipients: list[str], data: bytes) -> None:
        message = message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        async with self._arrived:
            self.messages.append((list(recipients), message))
            self._arrived.notify_all()


async def _data(reader: asyncio.StreamReader) -> bytes:
    lines: list[bytes] = []
    while (line := await reader.readline()) not in (b".\r\n", b".\n", b""):
        lines.append(line[1:] if line.startswith(b"..") else line)
    return b"".join(lines)
