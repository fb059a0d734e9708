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
from collections.abc import Callable
from typing import Any

MAX_FRAME = 64 << 20
MAX_BUFFERED = 32 << 20
MAX_REDIAL_S = 0.25
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


class FrameReceiver(asyncio.Protocol):
    """An accepted connection: frames are cut from the byte stream and handed on as they arrive.

    A protocol rather than a stream reader: the handler runs inside ``data_received``, with no
    task wake-up per frame (a loop iteration each, a large share of a replica's CPU per batch).
    ``on_frame(receiver, payload)`` gets the HELLO first; ``on_lost(receiver)`` the close.
    """

    def __init__(self, on_frame: Callable[[FrameReceiver, bytes], None],
                 on_lost: Callable[[FrameReceiver], None]) -> None:
        self.on_frame, self.on_lost = on_frame, on_lost
        self.transport: asyncio.Transport | None = None
        self.greeted = False  # whether the HELLO was delivered
        self.peer: str | None = None  # the client name its HELLO gave, if any
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport (replies to clients are written on it)."""
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        """Deliver every complete frame; close on an oversized one."""
        buffer = self._buffer
        buffer += data
        start = 0
        while len(buffer) - start >= 4:
            (length,) = _LENGTH.unpack_from(buffer, start)
            if length > MAX_FRAME:
                log.warning("frame of %d bytes exceeds %d: closing", length, MAX_FRAME)
                self.transport.close()  # type: ignore[union-attr]
                buffer.clear()
                return
            end = start + 4 + length
            if len(buffer) < end:
                break
            payload = bytes(buffer[start + 4:end])
            start = end
            self.on_frame(self, payload)
        del buffer[:start]

    def connection_lost(self, exc: Exception | None) -> None:
        """Tell the owner."""
        self.on_lost(self)


def hello(**who: Any) -> bytes:
    """The framed HELLO identifying this end of a connection."""
    return frame(json.dumps({"type": "HELLO", **who}).encode())


class Link:
    """An outbound connection to one address, re-dialled with exponential backoff.

    Frames sent while disconnected wait in a bounded buffer (oldest dropped first): PBFT
    tolerates loss, and retransmission is the protocol's job, not the link's. Frames sent in one
    event-loop iteration go out in one write: on loopback a send costs tens of microseconds of
    kernel time (it runs the receiver's TCP input), far more than the framing.
    """

    def __init__(self, address: tuple[str, int], greeting: bytes, backlog: int = 4096) -> None:
        self.address = address
        self.greeting = greeting
        self.backlog: deque[bytes] = deque(maxlen=backlog)
        self.writer: asyncio.StreamWriter | None = None
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pending: list[bytes] = []
        self.on_frame: Any = None

    def start(self) -> None:
        """Begin dialling in the background."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    def send(self, data: bytes) -> None:
        """Queue one already-framed message; it is written at the end of this iteration."""
        if self.writer is None:
            self.backlog.append(data)
            return
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._write_pending)
        self._pending.append(data)

    def _write_pending(self) -> None:
        frames, self._pending = self._pending, []
        writer = self.writer
        if writer is None or writer.is_closing():
            # The connection just died (its reader has not noticed yet): keep the frames for
            # the next one, as while disconnected.
            self.backlog.extend(frames)
        elif writer.transport.get_write_buffer_size() < MAX_BUFFERED:
            writer.write(b"".join(frames))

    async def _run(self) -> None:
        delay = 0.02
        while True:
            try:
                reader, writer = await asyncio.open_connection(*self.address)
            except OSError:
                await asyncio.sleep(delay)
                # Capped low: a peer (or the proxy in front of it) that comes up is reached
                # within a quarter second, and a refused loopback dial costs microseconds.
                delay = min(delay * 2, MAX_REDIAL_S)
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
