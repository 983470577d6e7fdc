"""A lean HTTP/1.1 keep-alive client on asyncio streams, for load generators on the server's own
machine: each GET costs the client a few tens of microseconds instead of httpx's millisecond, so
the cores go to the server under test. One connection per client, requests one after another
(closed loop); bodies by ``Content-Length`` or chunked; anything else is an error.

>>> parse_head(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nX-A: b\\r\\n\\r\\n")
(200, {'content-length': '2', 'x-a': 'b'})
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

HEAD_END = b"\r\n\r\n"
MAX_HEAD = 64 * 1024


class HttpError(Exception):
    """The server answered something this client does not read, or closed the connection."""


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """The status and the headers (names lower-cased) of a response head ending in a blank line."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpError(f"not an HTTP/1.x status line: {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


class KeepAliveClient:
    """GETs on one kept-alive connection to ``base`` (``http://host:port``); reconnects when the
    server closed it. ``headers`` go with every request."""

    def __init__(self, base: str, headers: dict[str, str] | None = None, timeout: float = 30.0):
        url = urlsplit(base)
        if url.scheme != "http" or url.hostname is None:
            raise ValueError(f"base {base!r}: only http://host:port is supported")
        self.host, self.port = url.hostname, url.port or 80
        self.timeout = timeout
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._headers = f"Host: {url.netloc}\r\n{extra}".encode("latin-1")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        """The status and body of ``GET path`` (path and query, already percent-encoded)."""
        return await asyncio.wait_for(self._get(path), self.timeout)

    async def _get(self, path: str) -> tuple[int, bytes]:
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(b"GET " + path.encode("ascii") + b" HTTP/1.1\r\n" + self._headers + b"\r\n")
        try:
            status, headers = parse_head(await self._reader.readuntil(HEAD_END))
            body = await self._body(headers)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
            await self.close()
            raise HttpError(f"GET {path}: the connection broke ({exc!r})") from exc
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def _body(self, headers: dict[str, str]) -> bytes:
        assert self._reader is not None
        if "content-length" in headers:
            return await self._reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() != "chunked":
            raise HttpError("a response with neither Content-Length nor chunked encoding")
        chunks = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self._reader.readexactly(size + 2)  # the data and its CRLF
            if size == 0:
                return b"".join(chunks)
            chunks.append(chunk[:-2])

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def __aenter__(self) -> KeepAliveClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()
