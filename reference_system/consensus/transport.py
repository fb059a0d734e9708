"""Length-prefixed frames over asyncio TCP, and outbound links that reconnect with backoff.

A frame is a 4-byte big-endian length followed by that many bytes of JSON. The first frame
on every connection is a HELLO naming the dialler: ``{"type": "HELLO", "replica": i}`` or
``{"type": "HELLO", "client": name}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
from collections import deque
from typing import Any

MAX_FRAME = 64 << 20
MAX_BUFFERED = 32 << 20
_LENGTH = struct.Struct(">I")
log = logging.getLogger("prsm.consensus.transport")


def frame(payload: bytes) -> bytes:
    """Length-prefix ``payload``."""
    return _LENGTH.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """Read one frame; raises IncompleteReadError at EOF, ValueError if oversized."""
    header = await reader.readexactly(4)
    (length,) = _LENGTH.unpack(header)
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes exceeds {MAX_FRAME}")
    return await reader.readexactly(length)


def hello(**who: Any) -> bytes:
    """The framed HELLO identifying this end of a connection."""
    return frame(json.dumps({"type": "HELLO", **who}).encode())


class Link:
    """An outbound connection to one address, re-dialled with exponential backoff.

    Frames sent while disconnected wait in a bounded buffer (oldest dropped first): PBFT
    tolerates loss, and retransmission is the protocol's job, not the link's.
    """

    def __init__(self, address: tuple[str, int], greeting: bytes, backlog: int = 4096) -> None:
        self.address = address
        self.greeting = greeting
        self.backlog: deque[bytes] = deque(maxlen=backlog)
        self.writer: asyncio.StreamWriter | None = None
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.on_frame: Any = None

    def start(self) -> None:
        """Begin dialling in the background."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    def send(self, data: bytes) -> None:
        """Queue or write one already-framed message."""
        writer = self.writer
        if writer is None:
            self.backlog.append(data)
        elif writer.transport.get_write_buffer_size() < MAX_BUFFERED:
            writer.write(data)

    async def _run(self) -> None:
        delay = 0.02
        while True:
            try:
                reader, writer = await asyncio.open_connection(*self.address)
            except OSError:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            delay = 0.02
            await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(self.greeting)
        while self.backlog:
            writer.write(self.backlog.popleft())
        self.writer = writer
        self.connected.set()
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
            while True:  # replicas never answer on this link; clients get replies here
                data = await read_frame(reader)
                if self.on_frame is not None:
                    self.on_frame(data)
        self.writer = None
        self.connected.clear()
        writer.close()

    async def close(self) -> None:
        """Stop dialling and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.writer is not None:
            self.writer.close()
