"""The SMTP refusal past the session limit on uvloop, the loop every process runs on: its transports are not
asyncio's classes, and a check on those classes once made the refusal crash before its 421."""

from __future__ import annotations

import asyncio

import uvloop

from services.ingest.email.smtp import _TooManySessions


async def _greeting() -> bytes:
    server = await asyncio.get_running_loop().create_server(_TooManySessions, "127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        try:
            async with asyncio.timeout(3.0):
                return await reader.readline() + await reader.read()  # the reply, then the end of the stream
        finally:
            writer.close()
    finally:
        server.close()


def test_a_connection_past_the_session_limit_reads_421_and_is_closed_on_uvloop() -> None:
    assert uvloop.run(_greeting()) == b"421 4.7.0 Too many connections; try again later\r\n"
