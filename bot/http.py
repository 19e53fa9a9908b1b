"""PTB's HTTP transport on aiohttp: the same contract as its default HTTPXRequest, at less CPU per call.

python-telegram-bot talks to the Bot API through a `BaseRequest`, and documents swapping it for another
asyncio HTTP library. On this 2-core machine httpx/httpcore spend more CPU per call than everything else the
bot does for an answer: httpcore re-checks every pooled connection on each request, so its cost grows with
the pool (bench/bench_bot.py measures both). aiohttp keeps idle connections in a queue and parses HTTP in C.
"""

from __future__ import annotations

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` over one aiohttp session with a pool of `connections` keep-alive connections."""

    __slots__ = (
        "_connect_timeout",
        "_connections",
        "_media_write_timeout",
        "_pool_timeout",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connections: int = 1,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout; PTB adds a long poll's own timeout to it."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (PTB calls this from `Application.initialize`)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._connections, limit_per_host=self._connections)
            # trust_env: HTTPS_PROXY / NO_PROXY apply as they do for PTB's default transport.
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=True, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one call; return the HTTP status and the body. Raise TimedOut or NetworkError as PTB expects."""
        if self._session is None or self._session.closed:
            msg = "This AiohttpRequest is not initialized!"
            raise RuntimeError(msg)
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if request_data else None
        data: aiohttp.FormData | dict[str, str] | None = fields
        if files:
            data = aiohttp.FormData(fields or {})
            for name, (filename, content, mimetype) in files.items():
                data.add_field(name, content, filename=filename, content_type=mimetype)
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        if isinstance(write_timeout, DefaultValue):
            write_timeout = self._media_write_timeout if files else self._write_timeout
        # aiohttp has no write timeout of its own: an upload is bounded as a whole, sending plus reading.
        total = write_timeout + read if files and write_timeout is not None and read is not None else None
        waiting = None if pool is None and connect is None else (pool or 0.0) + (connect or 0.0)
        timeout = aiohttp.ClientTimeout(total=total, connect=waiting, sock_connect=connect, sock_read=read)
        try:
            async with self._session.request(method, url, data=data, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            # The URL holds the token: never let it into a message that may be logged.
            raise NetworkError(f"aiohttp.{type(err).__name__}: {str(err).replace(url, '<url>')}") from err
