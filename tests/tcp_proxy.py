"""A TCP proxy a test puts between one "machine" and the database, to cut it off.

It forwards 127.0.0.1:``port`` to the target in a thread of its own (so sync
tests, async tests and subprocesses can all use it) and can fail in the two
ways a network does:

- ``cut()``: a partition.  Nothing passes either way and nobody is told: open
  connections stay open, new ones are accepted and hang.  Bytes in flight wait
  and flow again after ``restore()``, as TCP retransmission would deliver them.
- ``reset()``: every open connection is torn down with a reset (what a
  restarting router or a killed peer looks like), then new ones work again.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"tcp-proxy→{target_port}")
        self._open: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self.connections = 0  # accepted so far

    # -- control, from any thread ------------------------------------------------------

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def cut(self) -> None:
        """Stop every byte, both ways, silently (until ``restore``)."""
        self._call(self._set_open(False))

    def restore(self) -> None:
        self._call(self._set_open(True))

    def reset(self) -> None:
        """Tear down every open connection with a TCP reset."""
        self._call(self._reset())

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    # -- inside the proxy's loop ---------------------------------------------------------

    async def _start(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _set_open(self, value: bool) -> None:
        assert self._open is not None
        if value:
            self._open.set()
        else:
            self._open.clear()

    async def _reset(self) -> None:
        for writer in list(self._writers):
            _abort(writer)
        self._writers.clear()

    async def _close(self) -> None:
        """Let every connection end on its own (a cancelled one makes asyncio's streams
        log an error): release waits, tear the sockets down, wait for the tasks."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        assert self._open is not None
        self._open.set()
        await self._reset()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        task.add_done_callback(self._tasks.discard)  # type: ignore[arg-type]
        self._writers.add(writer)
        assert self._open is not None
        try:
            await self._open.wait()  # during a cut, a new connection hangs
            if self._closing:
                raise ConnectionAbortedError
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _abort(writer)
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer),
                             return_exceptions=True)
        for end in (writer, up_writer):
            self._writers.discard(end)
            with contextlib.suppress(OSError, RuntimeError):
                end.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._open is not None
        try:
            while True:
                await self._open.wait()
                data = await reader.read(65536)
                if not data:
                    break
                await self._open.wait()  # read during a cut: held until the network is back
                if self._closing:
                    break
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            _abort(writer)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (SO_LINGER 0), not a polite FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
