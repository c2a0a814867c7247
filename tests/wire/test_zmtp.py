"""The plain-socket ZMTP DEALER against a real pyzmq ROUTER (tcp and ipc), and against scripted
fake servers for the protocol corners libzmq never shows (split greetings, ERROR, odd frames)."""

from __future__ import annotations

import array
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zmq
from helpers import with_packages

from spraycc.wire import zmtp
from spraycc.wire.zmtp import Dealer, ZmtpClosed, ZmtpError

ROOT = Path(__file__).resolve().parents[2]
WAIT = 10.0  # seconds any single expected event may take before the test fails


# --- fixtures: pyzmq-style, nothing can hang -----------------------------------------------------


@pytest.fixture
def ctx() -> Iterator[zmq.Context]:
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture
def ipc_dir() -> Iterator[str]:
    # A short path: AF_UNIX paths are limited to 107 bytes, pytest's tmp_path can be longer.
    path = tempfile.mkdtemp(prefix="zmtp-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_router(ctx: zmq.Context, ipc_dir: str) -> Iterator[Callable[..., tuple]]:
    """ROUTER factory: (socket, endpoint) bound on loopback tcp ("tcp", "tcp6") or in `ipc_dir`
    ("ipc"); every socket is closed at teardown (not left to the garbage collector)."""
    made: list[zmq.Socket] = []

    def make(transport: str, **options: int) -> tuple:
        sock = ctx.socket(zmq.ROUTER)
        made.append(sock)
        sock.linger = 0
        for name, value in options.items():
            sock.setsockopt(getattr(zmq, name), value)
        if transport == "tcp":
            port = sock.bind_to_random_port("tcp://127.0.0.1")
            return sock, f"tcp://127.0.0.1:{port}"
        if transport == "tcp6":
            sock.ipv6 = True
            port = sock.bind_to_random_port("tcp://[::1]")
            return sock, f"tcp://[::1]:{port}"
        endpoint = f"ipc://{ipc_dir}/router-{len(made)}.sock"
        sock.bind(endpoint)
        return sock, endpoint

    yield make
    for sock in made:
        sock.close(linger=0)


@pytest.fixture(params=["tcp", "ipc"])
def router(request: pytest.FixtureRequest, make_router: Callable[..., tuple]) -> tuple:
    return make_router(request.param)


@pytest.fixture
def dealers() -> Iterator[Callable[..., Dealer]]:
    """Dealer factory whose connections are closed after the test."""
    made: list[Dealer] = []

    def make(endpoint: str, **kwargs: object) -> Dealer:
        kwargs.setdefault("timeout", WAIT)
        dealer = Dealer(endpoint, **kwargs)  # type: ignore[arg-type]
        made.append(dealer)
        return dealer

    yield make
    for dealer in made:
        dealer.close()


def router_recv(sock: zmq.Socket, timeout: float = WAIT) -> list[bytes]:
    if not sock.poll(int(timeout * 1000)):
        pytest.fail(f"ROUTER received nothing within {timeout} s")
    return sock.recv_multipart()


def dealer_recv(dealer: Dealer, timeout: float = WAIT) -> list[bytes]:
    msg = dealer.recv(timeout)
    if msg is None:
        pytest.fail(f"Dealer received nothing within {timeout} s")
    return msg


def connect_pair(router: tuple, dealers: Callable[..., Dealer], identity: bytes = b"client"):
    """A Dealer the ROUTER already knows (it has received one message from it)."""
    sock, endpoint = router
    dealer = dealers(endpoint, identity=identity)
    dealer.send([b"hello"])
    assert router_recv(sock) == [identity, b"hello"]
    return sock, dealer


# --- against a real ROUTER -----------------------------------------------------------------------


def test_handshake_and_identity(router: tuple, dealers: Callable[..., Dealer]) -> None:
    sock, endpoint = router
    dealer = dealers(endpoint, identity=b"runner-1")
    assert dealer.peer_version >= (3, 0)
    assert dealer.peer_properties[b"Socket-Type"] == b"ROUTER"
    dealer.send([b"hello", b"world"])
    assert router_recv(sock) == [b"runner-1", b"hello", b"world"]


def test_empty_identity_gets_one_from_the_router(router, dealers) -> None:
    sock, endpoint = router
    dealer = dealers(endpoint)
    dealer.send([b"ping"])
    peer, body = router_recv(sock)
    assert peer and body == b"ping"
    sock.send_multipart([peer, b"pong"])
    assert dealer_recv(dealer) == [b"pong"]


def test_socket_options(router, dealers) -> None:
    _, endpoint = router
    dealer = dealers(endpoint)
    fd = dealer.fileno()
    assert fd >= 0
    assert not os.get_inheritable(fd)  # CLOEXEC: compilers must not inherit it
    if endpoint.startswith("tcp://"):
        with socket.socket(fileno=os.dup(fd)) as dup:
            assert dup.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


FRAMES = [
    [b""],
    [b"", b""],
    [b"a"],
    [b"x" * 255],
    [b"y" * 256],
    [b"", b"x" * 255, b"", b"y" * 256, b"z" * 257, b""],
    [bytes(range(256)) * 300, b"", b"tail"],  # a 76 KB frame: sent with sendmsg, not joined
    [b"%d" % i for i in range(3000)],  # more frames than one sendmsg() takes
]


@pytest.mark.parametrize("frames", FRAMES, ids=lambda f: f"{len(f)}x{len(f[0])}")
def test_frames_round_trip(router, dealers, frames: list[bytes]) -> None:
    sock, dealer = connect_pair(router, dealers)
    dealer.send(frames)
    assert router_recv(sock) == [b"client", *frames]
    sock.send_multipart([b"client", *frames])
    assert dealer_recv(dealer) == frames


def test_buffer_types_are_sent(router, dealers) -> None:
    sock, dealer = connect_pair(router, dealers)
    big = bytearray(b"b" * 100_000)
    dealer.send([bytearray(b"ba"), memoryview(b"mv"), memoryview(big), b"end"])
    assert router_recv(sock) == [b"client", b"ba", b"mv", bytes(big), b"end"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("send_timeout", [None, 60.0], ids=["blocking", "with-deadline"])
def test_50_mb_frame_both_ways(router, dealers, send_timeout: float | None) -> None:
    sock, dealer = connect_pair(router, dealers)
    big = os.urandom(1 << 20) * 50
    # With a deadline the socket is non-blocking, so the kernel takes the frame in pieces.
    dealer.send([b"head", big, b"tail"], timeout=send_timeout)
    assert router_recv(sock, 60) == [b"client", b"head", big, b"tail"]
    sock.send_multipart([b"client", big, b"", big[:300]], copy=False)
    got = dealer_recv(dealer, 60)
    assert len(got) == 3 and got[0] == big and got[1:] == [b"", big[:300]]


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_many_messages_pipelined(make_router, dealers, transport: str) -> None:
    # Unlimited queues, as the real server has: with the default HWM of 1000 libzmq stops
    # reading (or, sending, drops) once 1000 messages wait for the other side.
    router = make_router(transport, RCVHWM=0, SNDHWM=0)
    sock, dealer = connect_pair(router, dealers)
    count = 3000
    for i in range(count):
        dealer.send([b"%d" % i, b"x" * (i % 300)], timeout=WAIT)
    for i in range(count):
        assert router_recv(sock) == [b"client", b"%d" % i, b"x" * (i % 300)]
    for i in range(count):
        sock.send_multipart([b"client", b"%d" % i, b"y" * (i % 700)])
    for i in range(count):
        assert dealer_recv(dealer) == [b"%d" % i, b"y" * (i % 700)]
    assert dealer.recv(0) is None


def test_recv_timeout_returns_none_promptly(router, dealers) -> None:
    _, endpoint = router
    dealer = dealers(endpoint)
    start = time.monotonic()
    assert dealer.recv(0) is None
    assert time.monotonic() - start < 1.0  # bench/promptness.py measures the real figures
    start = time.monotonic()
    assert dealer.recv(0.2) is None
    elapsed = time.monotonic() - start
    assert 0.19 <= elapsed < 2.0


def test_server_closing_raises_closed(router, dealers) -> None:
    sock, dealer = connect_pair(router, dealers)
    sock.close()
    with pytest.raises(ZmtpClosed):
        dealer.recv(WAIT)
    with pytest.raises(ZmtpClosed):  # and stays closed
        dealer.recv(0)
    with pytest.raises(ZmtpError):
        dealer.send([b"too late"])


def test_close_is_idempotent(router, dealers) -> None:
    _, endpoint = router
    dealer = dealers(endpoint)
    dealer.close()
    dealer.close()
    assert dealer.fileno() == -1
    with pytest.raises(ZmtpError):
        dealer.recv(0)
    with pytest.raises(ZmtpError):
        dealer.send([b"x"])


def test_context_manager_closes(router) -> None:
    _, endpoint = router
    with Dealer(endpoint, timeout=WAIT) as dealer:
        assert dealer.fileno() >= 0
    assert dealer.fileno() == -1


def closed_tcp_port() -> int:
    with socket.socket() as s:  # bound, never listening: connecting is refused
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connect_refused_fails_quickly() -> None:
    start = time.monotonic()
    with pytest.raises(ZmtpError, match="cannot connect"):
        Dealer(f"tcp://127.0.0.1:{closed_tcp_port()}", timeout=5)
    assert time.monotonic() - start < 4.0  # not the 5 s timeout: bench/promptness.py


def test_missing_ipc_path_fails_quickly(ipc_dir: str) -> None:
    start = time.monotonic()
    with pytest.raises(ZmtpError, match="cannot connect"):
        Dealer(f"ipc://{ipc_dir}/nobody.sock", timeout=5)
    assert time.monotonic() - start < 4.0  # not the 5 s timeout


@pytest.mark.parametrize(
    "endpoint",
    ["127.0.0.1:5555", "tcp://", "tcp://127.0.0.1", "tcp://127.0.0.1:x", "tcp://:5",
     "tcp://127.0.0.1:70000", "udp://127.0.0.1:5", "inproc://x"],
)  # fmt: skip
def test_bad_endpoints(endpoint: str) -> None:
    with pytest.raises(ZmtpError):
        Dealer(endpoint, timeout=1)


def test_silent_server_times_out() -> None:
    """A listener that never speaks (the kernel completes the TCP handshake by itself)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(ZmtpError, match="timed out"):
            Dealer(f"tcp://127.0.0.1:{port}", timeout=0.3)
        assert 0.25 <= time.monotonic() - start < 3.0


def test_hostname_endpoint(make_router, dealers) -> None:
    # "localhost" may resolve to ::1 first, where nothing listens: the next address is tried.
    sock, endpoint = make_router("tcp")
    dealer = dealers(endpoint.replace("127.0.0.1", "localhost"), identity=b"h")
    dealer.send([b"x"])
    assert router_recv(sock) == [b"h", b"x"]


def test_ipv6_endpoint(make_router, dealers) -> None:
    try:
        sock, endpoint = make_router("tcp6")
    except zmq.ZMQError as exc:
        pytest.skip(f"no IPv6 loopback: {exc}")
    dealer = dealers(endpoint, identity=b"six")
    dealer.send([b"x"])
    assert router_recv(sock) == [b"six", b"x"]


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_router_mandatory_sends_by_identity(make_router, dealers, transport: str) -> None:
    sock, endpoint = make_router(transport, ROUTER_MANDATORY=1)
    sock, dealer = connect_pair((sock, endpoint), dealers, identity=b"runner-42")
    sock.send_multipart([b"runner-42", b"for you"])
    assert dealer_recv(dealer) == [b"for you"]
    with pytest.raises(zmq.ZMQError):  # the option is on: unknown peers are refused
        sock.send_multipart([b"nobody", b"x"])


HEARTBEAT = {"HEARTBEAT_IVL": 100, "HEARTBEAT_TIMEOUT": 300}


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_heartbeats_are_answered(make_router, dealers, transport: str) -> None:
    router = make_router(transport, ROUTER_MANDATORY=1, **HEARTBEAT)
    sock, dealer = connect_pair(router, dealers)
    # One second is the duration under test (over 3x the heartbeat timeout), not a wait for
    # some event: the Dealer answers the ROUTER's PINGs while it sits in recv.
    assert dealer.recv(1.0) is None
    assert dealer._pongs >= 3
    sock.send_multipart([b"client", b"still connected"])
    assert dealer_recv(dealer) == [b"still connected"]


def test_unanswered_heartbeats_drop_the_connection(make_router, dealers, monkeypatch) -> None:
    """The control for the test above: without PONGs libzmq drops us within the second."""
    real = Dealer._on_command

    def deaf(self: Dealer, name: bytes, data: bytes) -> None:
        if name != b"PING":
            real(self, name, data)

    monkeypatch.setattr(Dealer, "_on_command", deaf)
    router = make_router("tcp", ROUTER_MANDATORY=1, **HEARTBEAT)
    _, dealer = connect_pair(router, dealers)
    with pytest.raises(ZmtpClosed):
        dealer.recv(WAIT)


def test_import_is_cheap() -> None:
    """The runner's start-up path: only builtin modules, none of the heavy ones."""
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); before = set(sys.modules)\n"
        "import spraycc.wire.zmtp, spraycc.wire.minipack\n"
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    assert set(out) <= with_packages({"spraycc.wire.minipack", "spraycc.wire.zmtp"}) | {
        "__future__", "_socket"}  # fmt: skip


# --- against scripted fake servers ---------------------------------------------------------------

SERVER_GREETING = b"\xff" + bytes(8) + b"\x7f\x03\x01" + b"NULL" + bytes(16) + b"\x01" + bytes(31)


def command(name: bytes, data: bytes = b"") -> bytes:
    body = bytes([len(name)]) + name + data
    if len(body) < 256:
        return bytes([0x04, len(body)]) + body
    return b"\x06" + len(body).to_bytes(8, "big") + body


def prop(name: bytes, value: bytes) -> bytes:
    return bytes([len(name)]) + name + len(value).to_bytes(4, "big") + value


def frame(body: bytes, more: bool = False) -> bytes:
    if len(body) < 256:
        return bytes([int(more), len(body)]) + body
    return bytes([int(more) | 2]) + len(body).to_bytes(8, "big") + body


READY = command(b"READY", prop(b"Socket-Type", b"ROUTER"))


def read_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError(f"peer closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_frame(conn: socket.socket) -> tuple[int, bytes]:
    flags = read_exact(conn, 1)[0]
    size = int.from_bytes(read_exact(conn, 8 if flags & 2 else 1), "big")
    return flags, read_exact(conn, size)


def parse_properties(data: bytes) -> dict[bytes, bytes]:
    props, pos = {}, 0
    while pos < len(data):
        name = data[pos + 1 : pos + 1 + data[pos]]
        pos += 1 + len(name)
        size = int.from_bytes(data[pos : pos + 4], "big")
        props[name] = data[pos + 4 : pos + 4 + size]
        pos += 4 + size
    return props


class FakeServer:
    """One scripted connection on a loopback port, served by a thread. `script(conn)` runs
    after accept; its result (or exception) is checked by `result()`."""

    def __init__(self, script: Callable[[socket.socket], object]) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(WAIT)
        self.endpoint = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        self.script = script
        self.outcome: list[object] = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        try:
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(WAIT)
                self.outcome.append(("ok", self.script(conn)))
        except BaseException as exc:  # handed to the test thread by result()
            self.outcome.append(("error", exc))

    def result(self) -> object:
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "fake server still running"
        kind, value = self.outcome[0]
        if kind == "error":
            raise value  # type: ignore[misc]
        return value

    def close(self) -> None:
        self.listener.close()
        self.thread.join(WAIT)


@pytest.fixture
def fake() -> Iterator[Callable[[Callable[[socket.socket], object]], FakeServer]]:
    servers: list[FakeServer] = []

    def start(script: Callable[[socket.socket], object]) -> FakeServer:
        servers.append(FakeServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_split_greeting_and_protocol_corners(fake, dealers) -> None:
    """A server that sends its greeting the way RFC 23 allows (signature first, the rest
    only after reading ours, then byte by byte), checks the client sends nothing early, PINGs,
    sends unknown commands and a message one byte at a time."""
    release = threading.Event()

    def script(conn: socket.socket) -> dict:
        conn.sendall(SERVER_GREETING[:10])
        client_greeting = read_exact(conn, 64)
        early = []
        for i in range(10, 64):
            conn.setblocking(False)
            try:
                early.append(conn.recv(1))  # the client must wait for our whole greeting
            except BlockingIOError:
                pass
            conn.settimeout(WAIT)
            conn.sendall(SERVER_GREETING[i : i + 1])
            time.sleep(0.001)  # separate segments, and time for a wrong client to jump in
        flags, ready = read_frame(conn)
        props = parse_properties(ready[6:])
        conn.sendall(
            command(b"READY", prop(b"socket-type", b"ROUTER") + prop(b"X-Whatever", b"v" * 300))
        )
        conn.sendall(command(b"HELLO-FROM-THE-FUTURE", b"data"))
        conn.sendall(command(b"PING", b"\x00\x0a" + b"ctx-123"))
        pong_flags, pong = read_frame(conn)
        msg = frame(b"part-1", more=True) + command(b"NOISE") + frame(b"x" * 300, more=True)
        msg += b"\x02" + (5).to_bytes(8, "big") + b"short"  # LONG flag, small size: legal
        for byte in msg:
            conn.sendall(bytes([byte]))
        release.wait(WAIT)
        return {
            "greeting": client_greeting,
            "early": early,
            "ready_flags": flags,
            "ready": ready[:6],
            "props": props,
            "pong": (pong_flags, pong),
        }

    server = fake(script)
    dealer = dealers(server.endpoint, identity=b"me")
    assert dealer.peer_properties == {b"socket-type": b"ROUTER", b"X-Whatever": b"v" * 300}
    assert dealer_recv(dealer) == [b"part-1", b"x" * 300, b"short"]
    release.set()
    seen = server.result()
    assert seen["greeting"][:10] == b"\xff" + bytes(8) + b"\x7f"
    assert seen["greeting"][10] == 3 and seen["greeting"][12:32] == b"NULL" + bytes(16)
    assert seen["early"] == []
    assert seen["ready_flags"] == 0x04 and seen["ready"] == b"\x05READY"
    assert seen["props"] == {b"Socket-Type": b"DEALER", b"Identity": b"me"}
    assert seen["pong"] == (0x04, b"\x04PONG" + b"ctx-123")


def serve_handshake(conn: socket.socket, ready: bytes = READY) -> None:
    read_exact(conn, 64)
    conn.sendall(SERVER_GREETING)
    read_frame(conn)
    conn.sendall(ready)


def test_buffered_messages_come_without_blocking(fake, dealers) -> None:
    done = threading.Event()

    def script(conn: socket.socket) -> None:
        serve_handshake(conn)
        conn.sendall(frame(b"one") + frame(b"two", more=True) + frame(b"three") + frame(b"4"))
        done.wait(WAIT)

    server = fake(script)
    dealer = dealers(server.endpoint)
    assert dealer_recv(dealer) == [b"one"]
    # Everything arrived in one segment, so it is all in the Dealer's buffer by now: the
    # socket has nothing more, yet recv(0) must still hand out the rest.
    assert dealer.recv(0) == [b"two", b"three"]
    assert dealer.recv(0) == [b"4"]
    assert dealer.recv(0) is None
    done.set()
    server.result()


@pytest.mark.parametrize(
    ("greeting", "match"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", "does not speak ZMTP 3"),
        (b"\xff" + bytes(8) + b"\x7e", "does not speak ZMTP 3"),  # ZMTP 1.0
        (b"\xff" + bytes(8) + b"\x7f\x01\x05", "ZMTP 1.x"),  # ZMTP 2.0
        (SERVER_GREETING[:12] + b"PLAIN" + bytes(15) + bytes(32), "mechanism 'PLAIN'"),
    ],
)
def test_wrong_peers_are_refused_at_once(fake, greeting: bytes, match: str) -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(greeting)
        try:
            conn.recv(1024)
        except OSError:
            pass

    server = fake(script)
    start = time.monotonic()
    with pytest.raises(ZmtpError, match=match):
        Dealer(server.endpoint, timeout=5)
    assert time.monotonic() - start < 2.0
    server.result()


def test_higher_version_is_accepted(fake, dealers) -> None:
    def script(conn: socket.socket) -> None:
        read_exact(conn, 64)
        conn.sendall(SERVER_GREETING[:10] + b"\x03\x07" + SERVER_GREETING[12:])
        read_frame(conn)
        conn.sendall(READY + frame(b"hi"))
        read_exact(conn, 1)

    server = fake(script)
    dealer = dealers(server.endpoint)
    assert dealer.peer_version == (3, 7)
    assert dealer_recv(dealer) == [b"hi"]
    dealer.close()
    with pytest.raises(EOFError):
        server.result()


def test_error_command_in_handshake(fake) -> None:
    def script(conn: socket.socket) -> None:
        serve_handshake(conn, ready=command(b"ERROR", b"\x0dinvalid thing"))

    server = fake(script)
    with pytest.raises(ZmtpError, match="refused us: invalid thing"):
        Dealer(server.endpoint, timeout=5)
    server.result()


@pytest.mark.parametrize(
    "ready",
    [
        command(b"READY", prop(b"Socket-Type", b"PUB")),  # cannot talk to a DEALER
        command(b"READY", b"\x05Ident\x00\x00\x00\x09abc"),  # value runs past the end
        command(b"READY", b"\x00\x00\x00\x00\x00"),  # empty property name
        frame(b"a message before READY"),
    ],
)
def test_bad_ready_is_refused(fake, ready: bytes) -> None:
    server = fake(lambda conn: serve_handshake(conn, ready=ready))
    with pytest.raises(ZmtpError):
        Dealer(server.endpoint, timeout=5)
    server.result()


def test_error_command_later(fake, dealers) -> None:
    def script(conn: socket.socket) -> None:
        serve_handshake(conn)
        conn.sendall(frame(b"first") + command(b"ERROR", b"\x07go away"))
        read_exact(conn, 1)

    server = fake(script)
    dealer = dealers(server.endpoint)
    assert dealer_recv(dealer) == [b"first"]
    with pytest.raises(ZmtpError, match="go away"):
        dealer.recv(WAIT)
    with pytest.raises(ZmtpError, match="go away"):  # the connection stays unusable
        dealer.recv(0)
    dealer.close()
    with pytest.raises(EOFError):
        server.result()


def test_peer_closing_mid_frame(fake, dealers) -> None:
    def script(conn: socket.socket) -> None:
        serve_handshake(conn)
        conn.sendall(frame(b"done") + frame(b"x" * 1000, more=True)[:500])

    server = fake(script)
    dealer = dealers(server.endpoint)
    assert dealer_recv(dealer) == [b"done"]
    with pytest.raises(ZmtpClosed):
        dealer.recv(WAIT)
    server.result()


def test_large_frame_in_small_pieces(fake, dealers) -> None:
    """A frame above the direct-read threshold arriving in many small writes."""
    body = os.urandom(300_000)

    def script(conn: socket.socket) -> None:
        serve_handshake(conn)
        data = frame(b"h", more=True) + frame(body, more=True) + frame(b"t") + frame(b"next")
        for i in range(0, len(data), 7001):
            conn.sendall(data[i : i + 7001])
        read_exact(conn, 1)

    server = fake(script)
    dealer = dealers(server.endpoint)
    assert dealer_recv(dealer) == [b"h", body, b"t"]
    assert dealer_recv(dealer) == [b"next"]
    dealer.close()
    with pytest.raises(EOFError):
        server.result()


def test_send_timeout_leaves_the_dealer_unusable(fake, dealers) -> None:
    stop = threading.Event()

    def script(conn: socket.socket) -> None:
        serve_handshake(conn)
        stop.wait(WAIT)  # never reads again

    server = fake(script)
    dealer = dealers(server.endpoint)
    start = time.monotonic()
    with pytest.raises(ZmtpError, match="timed out"):
        dealer.send([b"x" * (64 << 20)], timeout=0.3)
    assert time.monotonic() - start < 3.0
    with pytest.raises(ZmtpError):
        dealer.send([b"small"])
    stop.set()
    server.result()


def test_identity_too_long() -> None:
    with pytest.raises(ValueError):
        Dealer("tcp://127.0.0.1:1", timeout=1, identity=b"x" * 256)


def test_recv_times_out_while_a_huge_frame_arrives(fake, dealers) -> None:
    body = b"s" * (64 << 20)
    stop = threading.Event()

    def script(conn: socket.socket) -> None:
        serve_handshake(conn)
        conn.sendall(frame(body))
        stop.wait(WAIT)

    server = fake(script)
    dealer = dealers(server.endpoint)
    start = time.monotonic()
    assert dealer.recv(0.01) is None
    assert time.monotonic() - start < 3.0  # not waiting for the whole 64 MiB frame
    assert dealer_recv(dealer) == [body]
    stop.set()
    server.result()


def test_full_unix_backlog_is_retried_until_the_deadline(ipc_dir: str) -> None:
    """A non-blocking AF_UNIX connect fails with EAGAIN while the backlog is full: that is
    "busy, retry", not "refused"."""
    path = f"{ipc_dir}/busy.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen(0)
        queued = []
        try:
            for _ in range(64):  # fill the backlog (its exact size is the kernel's business)
                client = socket.socket(socket.AF_UNIX)
                queued.append(client)
                client.setblocking(False)
                try:
                    client.connect(path)
                except BlockingIOError:
                    break
            else:
                pytest.skip("could not fill the AF_UNIX backlog")
            start = time.monotonic()
            with pytest.raises(ZmtpError, match="timed out"):
                Dealer(f"ipc://{path}", timeout=0.3)
            assert 0.25 <= time.monotonic() - start < 3.0
        finally:
            for client in queued:
                client.close()


def queued_bytes(fd: int) -> int:
    buf = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return buf[0]


def test_recv_past_its_timeout_reads_a_bounded_amount(fake, dealers, monkeypatch) -> None:
    """Once its timeout has passed, recv reads at most _DRAIN more bytes, even when more
    are ready: a peer streaming a huge frame fast cannot hold it. (Scaled down: 4 KiB reads
    and a 1-byte allowance, against 64 KiB waiting in the kernel.)"""
    monkeypatch.setattr(zmtp, "_DRAIN", 1)
    monkeypatch.setattr(zmtp, "_READ", 4096)
    monkeypatch.setattr(zmtp, "_BIG_READ", 4096)
    stop = threading.Event()

    def script(conn: socket.socket) -> None:
        serve_handshake(conn)
        try:
            conn.sendall(frame(b"s" * (8 << 20)))
        except OSError:
            pass  # the client closed first
        stop.wait(WAIT)

    server = fake(script)
    dealer = dealers(server.endpoint)
    deadline = time.monotonic() + WAIT
    while queued_bytes(dealer.fileno()) < 65536:  # a condition, polled under a deadline
        assert time.monotonic() < deadline, "the kernel never queued 64 KiB"
        time.sleep(0.001)
    assert dealer.recv(0) is None
    assert queued_bytes(dealer.fileno()) > 0
    assert sum(map(len, dealer._big_chunks or [])) <= 2 * 4096
    stop.set()
    dealer.close()
    server.result()
