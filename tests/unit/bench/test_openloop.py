"""The open-loop generator against a real loopback server: every request is sent once, on a keep-alive
connection, and its latency is counted from its scheduled time."""

from __future__ import annotations

import asyncio

from bench.openloop import OpenLoop, parse_head


def test_a_response_head_gives_its_status_and_length() -> None:
    assert parse_head(b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 42") == (202, 42)
    assert parse_head(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 7\r\nRetry-After: 5") == (503, 7)
    assert parse_head(b"HTTP/1.1 204 No Content") == (204, 0)


async def test_every_request_is_sent_once_at_its_time_and_answered_on_few_connections() -> None:
    received: list[bytes] = []
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                received.append(await reader.readexactly(length))
                status = b"503 Service Unavailable" if received[-1] == b"4" else b"202 Accepted"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nok")
        except asyncio.IncompleteReadError:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    requests = [f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {len(str(i))}\r\n\r\n{i}".encode() for i in range(10)]
    generator = OpenLoop("127.0.0.1", (port,), requests, rate=200, connections=3)
    async with server:
        result = await generator.run(duration_s=0.05, warmup_s=0)
    assert sorted(received) == sorted(str(i).encode() for i in range(10))
    assert connections == 3
    assert result["sent"] == 10 and result["ok_total"] == 9 and result["statuses"] == {"202": 9, "503": 1}
    assert result["errors"] == {}
    assert len(generator.dues) == 10 and generator.answers[4] is None
    answered = [(due, at) for due, at in zip(generator.dues, generator.answers, strict=True) if at is not None]
    assert len(answered) == 9 and all(at >= due for due, at in answered)
