"""A runner's CURVE connection, for a runner on another host than the server.

A runner on the server's host talks to the private ipc endpoint with the light plain-socket
ZMTP client (`zmtp`). Anywhere else it must use the tcp endpoint, which speaks only CURVE
(Curve25519 key exchange, XSalsa20-Poly1305 per frame): too much to do cheaply in pure Python,
so this module uses pyzmq. It costs ~30 ms of imports and three threads per runner, which is
why the runner imports it only when it needs it (rare: builds usually run on the server's host).

`CurveDealer` has the interface of `zmtp.Dealer` that the runner uses (send, recv, fileno,
close) and its exceptions: ZmtpError when the server cannot be reached in time, ZmtpClosed
when it drops the connection; plus Refused when the handshake is refused (wrong user key, a
server key of another session), which the runner reports on one line and exits non-zero.
"""

from __future__ import annotations

import time

import zmq

from spraycc.net import auth
from spraycc.wire import keys
from spraycc.wire.zmtp import ZmtpClosed, ZmtpError


class CurveDealer:
    """One CURVE DEALER connection, handshake completed (or refused) before returning."""

    def __init__(self, endpoint: str, *, serverkey: str, timeout: float,
                 keypair: keys.KeyPair | None = None) -> None:
        if not auth.z85_ok(serverkey):
            raise ZmtpError(f"the server file's serverkey {serverkey!r} is not a CURVE key")
        if keypair is None:
            try:
                keypair = keys.load()
            except keys.KeyFileError as exc:  # cannot even try: like an unreachable server
                raise ZmtpError(str(exc)) from None
        self.endpoint = endpoint
        self.ctx = zmq.Context()
        self.curve = auth.CurveClient(self.ctx, endpoint, serverkey=serverkey.encode(),
                                      keypair=keypair)
        self.sock, self.monitor = self.curve.sock, self.curve.monitor
        self.poller = zmq.Poller()
        self.poller.register(self.sock, zmq.POLLIN)
        self.poller.register(self.monitor, zmq.POLLIN)
        try:
            self._handshake(time.monotonic() + timeout, timeout)
        except BaseException:
            self.close()
            raise

    def _handshake(self, deadline: float, timeout: float) -> None:
        while not self.curve.ready:
            left = deadline - time.monotonic()
            if left <= 0 or not self.monitor.poll(int(left * 1000)):
                raise ZmtpError(f"no CURVE handshake with {self.endpoint} within {timeout:g} s")
            self._on_events()

    def _on_events(self) -> None:
        self.curve.check()  # Refused when the server will not have us
        if self.curve.lost:
            # libzmq would reconnect, but the server forgot us (and our task) already.
            raise ZmtpClosed(f"{self.endpoint} closed the connection")

    def send(self, frames: list[bytes] | tuple[bytes, ...], *,
             timeout: float | None = None) -> None:
        self.sock.send_multipart(frames, copy=len(frames[-1]) < 65536)

    def recv(self, timeout: float | None) -> list[bytes] | None:
        """The next message, or None after `timeout` seconds (None: wait forever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                return self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                pass
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            events = dict(self.poller.poll(None if left is None else int(left * 1000)))
            if self.monitor in events:
                self._on_events()
            if not events and left is not None:
                return None

    def fileno(self) -> int:
        """The socket's notification fd (edge-triggered: call recv(0) when it is readable)."""
        return int(self.sock.getsockopt(zmq.FD))

    def close(self) -> None:
        if self.ctx.closed:
            return
        self.curve.close()
        self.ctx.term()
