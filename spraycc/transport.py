"""The one place that creates ZeroMQ sockets and sets their options (server and executor side).

The broker and executor logic receive objects from here, so their pure logic can be driven in
tests without sockets. The runner does not use this module: it speaks ZMTP on a plain socket.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import zmq

from spraycc.errors import PeerGone

log = logging.getLogger(__name__)

# A frame larger than this is refused by libzmq before it reaches Python (ZMQ_MAXMSGSIZE).
MAX_FRAME = 64 * 1024 * 1024


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
        # a finite HWM would make ROUTER drop or refuse messages to a busy runner.
        self.sock.setsockopt(zmq.SNDHWM, 0)
        self.sock.setsockopt(zmq.RCVHWM, 0)
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
        """Send one message to `peer`; PeerGone if the peer has disconnected."""
        try:
            self.sock.send_multipart([peer, *frames], copy=False)
        except zmq.ZMQError as exc:
            if exc.errno in (zmq.EHOSTUNREACH, zmq.EAGAIN):
                raise PeerGone(peer) from None
            raise

    def recv(self) -> list[zmq.Frame]:
        return self.sock.recv_multipart(zmq.NOBLOCK, copy=False)

    def close(self) -> None:
        self.sock.close(linger=0)


def dealer(ctx: zmq.Context, endpoint: str, *, identity: bytes = b"") -> zmq.Socket:
    """A connected DEALER for an executor or a status client."""
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.setsockopt(zmq.TCP_KEEPALIVE, 1)
    if identity:
        sock.setsockopt(zmq.IDENTITY, identity)
    sock.connect(endpoint)
    return sock
