"""The one place that creates ZeroMQ sockets and sets their options (server and executor side).

The broker and executor logic receive objects from here, so their pure logic can be driven in
tests without sockets. The runner does not use this module on its usual path (it speaks ZMTP on
a plain socket over the private ipc endpoint); only a runner on another host than the server
comes here, for a CURVE DEALER (see `curvelink`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import zmq

from spraycc.errors import PeerGone

log = logging.getLogger(__name__)

# A frame larger than this is refused by libzmq before it reaches Python (ZMQ_MAXMSGSIZE).
MAX_FRAME = 64 * 1024 * 1024
RCV_HWM = 1000  # messages the server queues per connection before it stops reading it
COPY_THRESHOLD = 64 * 1024  # frames smaller than this are copied when sent
_MORE = int(zmq.SNDMORE)  # plain ints: flag enum arithmetic is slow on the per-task path
_NOBLOCK = int(zmq.NOBLOCK)


class RouterTransport:
    """The server's ROUTER socket, bound to one or more endpoints.

    ROUTER_MANDATORY makes a send to a vanished peer fail loudly (EHOSTUNREACH) instead of
    silently dropping the message: that is how the server learns at once that a runner is gone.
    """

    def __init__(self, ctx: zmq.Context, *, max_frame: int = MAX_FRAME) -> None:
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.sock.setsockopt(zmq.MAXMSGSIZE, max_frame)
        # Flow control is end to end (CREDIT), so queue depth is bounded by the protocol;
        # a finite send HWM would make ROUTER drop or refuse messages to a busy runner.
        self.sock.setsockopt(zmq.SNDHWM, 0)
        # On receive, a full pipe only makes libzmq stop reading that one connection (TCP back
        # pressure, nothing dropped). A well-behaved peer never has more than CREDIT_WINDOW
        # chunks plus a few heartbeats in flight; the limit bounds what a peer flooding the
        # server (a broken client) can make it buffer while the loop catches up.
        self.sock.setsockopt(zmq.RCVHWM, RCV_HWM)
        self.sock.setsockopt(zmq.BACKLOG, 4096)
        self.sock.setsockopt(zmq.TCP_KEEPALIVE, 1)
        self.endpoints: list[str] = []

    def bind(self, endpoint: str) -> str:
        """Bind (port 0 or '*' picks a free port) and return the concrete endpoint."""
        if endpoint.startswith("tcp://") and endpoint.endswith(":0"):
            host = endpoint[len("tcp://") : -2]
            port = self.sock.bind_to_random_port(f"tcp://{host}")
            concrete = f"tcp://{host}:{port}"
        else:
            self.sock.bind(endpoint)
            concrete = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.endpoints.append(concrete)
        return concrete

    def send(self, peer: bytes, frames: Sequence[bytes | zmq.Frame]) -> None:
        """Send one message to `peer`; PeerGone if the peer has disconnected.

        Frame by frame with int flags, not send_multipart: on the per-task path its flag
        enums and checks cost more than the sends. Small frames are copied (cheaper than a
        zero-copy Frame for ~100 B), bulk ones and received Frames are passed on as they are."""
        send = self.sock.send
        last = len(frames) - 1
        try:
            send(peer, _MORE if last >= 0 else 0)
            for i, frame in enumerate(frames):
                send(frame, _MORE if i < last else 0,
                     copy=isinstance(frame, bytes) and len(frame) < COPY_THRESHOLD)
        except zmq.ZMQError as exc:
            if exc.errno in (zmq.EHOSTUNREACH, zmq.EAGAIN):
                raise PeerGone(peer) from None
            raise

    def recv(self) -> list[zmq.Frame]:
        """One whole message, without blocking (zmq.Again if there is none)."""
        recv = self.sock.recv
        frame = recv(_NOBLOCK, copy=False)
        frames = [frame]
        while frame.more:  # the rest of a message is there once its first frame is
            frame = recv(_NOBLOCK, copy=False)
            frames.append(frame)
        return frames

    def close(self) -> None:
        self.sock.close(linger=0)

    def secure(self, public: bytes, secret: bytes, *, domain: bytes,
               handshake_timeout: float = 10.0) -> None:
        """Make the endpoints bound *after* this call CURVE servers with this key pair (Z85).

        libzmq copies a socket's options into each listener when it binds, so an endpoint bound
        earlier (the private ipc one) keeps the NULL mechanism. Clients are admitted by the ZAP
        handler of `domain` (see `auth`); ZAP_ENFORCE_DOMAIN makes a missing handler refuse
        everyone instead of admitting everyone. HANDSHAKE_IVL bounds how long a stranger who
        connects and says nothing holds a file descriptor.
        """
        sock = self.sock
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
        sock.setsockopt(zmq.ZAP_DOMAIN, domain)
        sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
        sock.setsockopt(zmq.HANDSHAKE_IVL, int(handshake_timeout * 1000))


def curve_dealer(
    ctx: zmq.Context,
    endpoint: str,
    *,
    serverkey: bytes,
    public: bytes,
    secret: bytes,
    identity: bytes = b"",
    events: int = 0,
) -> tuple[zmq.Socket, zmq.Socket]:
    """A connected CURVE DEALER (keys in Z85) and a monitor socket reporting `events` (created
    before connecting, so a refused handshake cannot be missed; see `auth.failure_reason`)."""
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.CURVE_SERVERKEY, serverkey)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
    monitor = sock.get_monitor_socket(events or zmq.EVENT_ALL)
    monitor.setsockopt(zmq.LINGER, 0)
    return dealer(ctx, endpoint, identity=identity, sock=sock), monitor


def dealer(ctx: zmq.Context, endpoint: str, *, identity: bytes = b"",
           sock: zmq.Socket | None = None) -> zmq.Socket:
    """A connected DEALER for an executor or a status client (`sock`: one already set up,
    e.g. by `curve_dealer`)."""
    sock = sock if sock is not None else ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.setsockopt(zmq.TCP_KEEPALIVE, 1)
    if identity:
        sock.setsockopt(zmq.IDENTITY, identity)
    sock.connect(endpoint)
    return sock
