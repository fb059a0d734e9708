"""One proxied TCP connection: two sockets, two directions (links), each with its toxic chain.

Built on asyncio protocols, not streams: with no active toxic and nothing queued, bytes are
written to the other socket straight from ``data_received`` (no task switch), which is what keeps
the pass-through overhead small. With toxics, chunks go through the chain, are queued with the
time they are due, and a loop timer writes them out in order. Back-pressure: a socket whose
peer cannot keep up (transport paused) or a queue over :data:`QUEUE_LIMIT` pauses reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prsm_validate.faultproxy.toxics import CLOSE, DATA, EOF, Chunk, LinkToxic, ToxicSpec
from prsm_validate.faultproxy.toxics import link_toxic as make_link_toxic

if TYPE_CHECKING:
    from prsm_validate.faultproxy.core import Proxy

QUEUE_LIMIT = 4 * 1024 * 1024
#: How long a closing connection may take to flush before it is aborted.
CLOSE_GRACE_S = 2.0


class Side(asyncio.Protocol):
    """One socket of a proxied connection: the client's, or ours to the upstream."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.transport: asyncio.Transport | None = None
        self.incoming: Link | None = None  # the link reading from this socket
        self.outgoing: Link | None = None  # the link writing to this socket
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport; no Nagle delay, as Go's default for Toxiproxy's sockets."""
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection.side_made(self)

    def data_received(self, data: bytes) -> None:
        """Hand the bytes to the link that reads this socket."""
        assert self.incoming is not None
        self.incoming.receive(data)

    def eof_received(self) -> bool:
        """The peer closed its sending side: pass the EOF along, keep our side open."""
        assert self.incoming is not None
        self.incoming.receive_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        """The socket is gone: the connection ends once what was read from it is passed on."""
        self.lost = True
        self.connection.side_lost(self)

    def pause_writing(self) -> None:
        """The peer is slow: stop reading the other socket."""
        if self.outgoing is not None:
            self.outgoing.set_paused("dest", True)

    def resume_writing(self) -> None:
        """The peer caught up."""
        if self.outgoing is not None:
            self.outgoing.set_paused("dest", False)


class Link:
    """One direction of a connection (``upstream``: client -> server, ``downstream``: back)."""

    def __init__(self, connection: Connection, direction: str, source: Side, dest: Side) -> None:
        self.connection = connection
        self.direction = direction
        self.source, self.dest = source, dest
        source.incoming, dest.outgoing = self, self
        self.toxics: dict[str, LinkToxic] = {}
        self.active: list[LinkToxic] = []
        self.queue: deque[Chunk] = deque()
        self.queued_bytes = 0
        self.timer: asyncio.TimerHandle | None = None
        self.pauses: set[str] = set()
        self.eof_seen = False
        self.early: list[bytes | None] = []  # data (None: EOF) read before dest was connected

    def connected(self) -> None:
        """The destination socket is up: pass on what was read before."""
        early, self.early = self.early, []
        for data in early:
            if data is None:
                self.receive_eof()
            else:
                self.receive(data)
        self.set_paused("connecting", False)

    # --- LinkActions, for toxics ---
    def call_later(self, delay_s: float, action: Callable[[], None]) -> asyncio.TimerHandle:
        """Schedule ``action`` on the connection's loop."""
        return self.connection.loop.call_later(delay_s, action)

    def close(self) -> None:
        """Close the whole connection."""
        self.connection.close()

    def reset(self) -> None:
        """Reset the whole connection."""
        self.connection.reset()

    # --- toxics ---
    def add_toxic(self, spec: ToxicSpec, rng: random.Random) -> None:
        """Start ``spec`` on this link (drawing whether it acts here from its toxicity)."""
        toxic = make_link_toxic(spec, self, rng)
        self.toxics[spec.name] = toxic
        self._refresh()
        if toxic.active:
            toxic.attach()

    def remove_toxic(self, name: str) -> None:
        """Stop toxic ``name``; data it was holding back is released now, as Toxiproxy does."""
        toxic = self.toxics.pop(name, None)
        if toxic is None:
            return
        self._refresh()
        now = time.monotonic()
        for chunk in self.queue:
            chunk.due = min(chunk.due, now)
        if toxic.active:
            toxic.detach(removed=True)
        self.flush()

    def replace_toxic(self, spec: ToxicSpec, rng: random.Random) -> None:
        """Apply an updated spec: a fresh per-connection toxic that keeps the old one's state."""
        old = self.toxics.get(spec.name)
        if old is None:
            return
        if old.active:
            old.detach(removed=False)
        toxic = make_link_toxic(spec, self, rng)
        toxic.inherit(old)
        self.toxics[spec.name] = toxic
        self._refresh()
        if toxic.active:
            toxic.attach()

    def _refresh(self) -> None:
        self.active = [toxic for toxic in self.toxics.values() if toxic.active]

    # --- data path ---
    def receive(self, data: bytes) -> None:
        """Bytes read from the source socket."""
        if self.dest.transport is None:  # read before the upstream is connected: hold them
            self.early.append(data)
            self.set_paused("connecting", True)
            return
        if not self.active and not self.queue:
            self._write(data)  # the pass-through fast path
            return
        self._push(Chunk(data, time.monotonic()))

    def receive_eof(self) -> None:
        """The source will send no more."""
        if self.dest.transport is None:
            self.early.append(None)
        elif not self.eof_seen:
            self.eof_seen = True
            self._push(Chunk(b"", time.monotonic(), EOF))

    def _push(self, chunk: Chunk) -> None:
        chunks: Iterable[Chunk] = (chunk,)
        for toxic in self.active:
            chunks = [out for item in chunks for out in toxic.feed(item)]
        for item in chunks:
            self.queue.append(item)
            self.queued_bytes += len(item.data)
        self.flush()

    def flush(self) -> None:
        """Write every chunk that is due, in order; re-arm the timer for the next one."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        while self.queue and not self.connection.closed:
            wait = self.queue[0].due - time.monotonic()
            if wait > 0:  # never early: a timer that fires early (ms clocks) just re-arms
                self.timer = self.connection.loop.call_later(wait, self.flush)
                break
            chunk = self.queue.popleft()
            self.queued_bytes -= len(chunk.data)
            self._deliver(chunk)
        self.set_paused("queue", self.queued_bytes > QUEUE_LIMIT)

    def _deliver(self, chunk: Chunk) -> None:
        if chunk.kind == DATA:
            self._write(chunk.data)
        elif chunk.kind == EOF:
            self.connection.eof_delivered(self)
        elif chunk.kind == CLOSE:
            self.connection.close()

    def _write(self, data: bytes) -> None:
        transport = self.dest.transport
        if data and transport is not None and not transport.is_closing():
            transport.write(data)

    def set_paused(self, reason: str, paused: bool) -> None:
        """Pause reading the source while any reason holds (slow peer, full queue)."""
        before = bool(self.pauses)
        if paused:
            self.pauses.add(reason)
        else:
            self.pauses.discard(reason)
        transport = self.source.transport
        if transport is None or transport.is_closing() or before == bool(self.pauses):
            return
        if self.pauses:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def stop(self) -> None:
        """Cancel timers: the connection is closing."""
        if self.timer is not None:
            self.timer.cancel()
        for toxic in self.active:
            toxic.detach(removed=False)


class Connection:
    """A client connection accepted by a proxy and its connection to the upstream."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.loop = asyncio.get_running_loop()
        self.client = Side(self)
        self.server = Side(self)
        self.upstream = Link(self, "upstream", self.client, self.server)
        self.downstream = Link(self, "downstream", self.server, self.client)
        self.closed = False
        self.eofs: set[str] = set()
        self.connecting: asyncio.Task[None] | None = None

    def links(self) -> tuple[Link, Link]:
        """Both directions."""
        return self.upstream, self.downstream

    def link(self, stream: str) -> Link:
        """The link of ``stream`` (``upstream`` or ``downstream``)."""
        return self.upstream if stream == "upstream" else self.downstream

    def side_made(self, side: Side) -> None:
        """Accepted: connect to the upstream (what the client sends meanwhile is held).
        Connected: start the toxics, pass on what was held."""
        if side is self.client:
            self.proxy.track(self)
            self.connecting = self.loop.create_task(self._connect_upstream())
        elif self.closed:  # dropped (proxy disabled) while we were connecting
            side.transport.abort()  # type: ignore[union-attr]
        else:
            for link in self.links():
                for spec in self.proxy.toxics_of(link.direction):
                    link.add_toxic(spec, self.proxy.rng)
            self.upstream.connected()

    async def _connect_upstream(self) -> None:
        host, port = self.proxy.upstream_address()
        try:
            await self.loop.create_connection(lambda: self.server, host, port)
        except OSError:
            self.close()

    def eof_delivered(self, link: Link) -> None:
        """A link passed on its source's EOF: half-close, or close when both sides are done."""
        self.eofs.add(link.direction)
        transport = link.dest.transport
        if link.source.lost or len(self.eofs) == 2 or transport is None:
            self.close()
        elif transport.can_write_eof() and not transport.is_closing():
            transport.write_eof()

    def side_lost(self, side: Side) -> None:
        """A socket closed under us: what was read from it still goes on, then we close."""
        if self.closed:
            return
        assert side.incoming is not None
        if side.incoming.direction in self.eofs:
            self.close()
        else:
            side.incoming.receive_eof()  # a queued EOF closes when delivered (source lost)

    def close(self) -> None:
        """Close both sockets after flushing what was written (FIN); abort if that hangs."""
        if self._finish():
            for side in (self.client, self.server):
                if side.transport is not None:
                    side.transport.close()
                    self.loop.call_later(CLOSE_GRACE_S, side.transport.abort)

    def reset(self) -> None:
        """Abort both sockets with SO_LINGER 0, so the peers get a TCP RST."""
        if self._finish():
            for side in (self.client, self.server):
                _abort_with_rst(side.transport)

    def drop(self) -> None:
        """Abort both sockets now (proxy disabled, deleted or restarted)."""
        if self._finish():
            for side in (self.client, self.server):
                if side.transport is not None:
                    side.transport.abort()

    def _finish(self) -> bool:
        if self.closed:
            return False
        self.closed = True
        for link in self.links():
            link.stop()
        self.proxy.untrack(self)
        return True


def _abort_with_rst(transport: Any) -> None:
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
