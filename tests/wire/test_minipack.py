"""minipack against the real msgpack: byte-identical encoding, faithful decoding, and an
unpacker that fails only with UnpackError, fast, on anything hostile."""

from __future__ import annotations

import array
import collections
import enum
import math
import random
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import msgpack
import pytest
from helpers import with_packages

from spraycc.wire.minipack import UnpackError, packb, unpackb

BOUNDARY_INTS = [
    0, 1, 31, 32, 126, 127, 128, 129, 254, 255, 256, 257, 65534, 65535, 65536, 65537,
    2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1, 2**32, 2**32 + 1, 2**63 - 1, 2**63, 2**64 - 2,
    2**64 - 1, -1, -2, -31, -32, -33, -127, -128, -129, -255, -256, -32767, -32768, -32769,
    -(2**31) + 1, -(2**31), -(2**31) - 1, -(2**63) + 1, -(2**63),
]  # fmt: skip
BOUNDARY_LENGTHS = [0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536]
# 1-, 2-, 3- and 4-byte utf-8 characters: a str's length in bytes is what msgpack counts.
CHARS = "aZ0 ~\x00\x7fé\u00ff\u0100\u20ac\u4e2d\uffff\U0001f600\U0010ffff"


def reference(obj: object) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def reference_unpack(data: bytes) -> object:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def assert_same(got: object, want: object) -> None:
    """Deep equality that also insists on equal types (True is not 1, b"" is not "")."""
    assert type(got) is type(want), (got, want)
    if isinstance(want, list):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_same(g, w)
    elif isinstance(want, dict):
        assert list(got) == list(want)  # same keys, same order
        for key in want:
            assert_same(got[key], want[key])
    elif isinstance(want, float) and math.isnan(want):
        assert math.isnan(got)
    else:
        assert got == want
        if isinstance(want, float):  # 0.0 == -0.0, but they are different values
            assert math.copysign(1.0, got) == math.copysign(1.0, want)


def decoded_form(obj: object) -> object:
    """What unpackb returns for `obj`: tuples become lists, byte-likes become bytes."""
    if isinstance(obj, (list, tuple)):
        return [decoded_form(x) for x in obj]
    if isinstance(obj, dict):
        return {decoded_form(k): decoded_form(v) for k, v in obj.items()}
    if isinstance(obj, (bytearray, memoryview)):
        return bytes(obj)
    return obj


def check(obj: object) -> bytes:
    """packb(obj) equals msgpack's bytes, and both decoders give back the same value."""
    data = packb(obj)
    assert type(data) is bytes
    assert data == reference(obj)
    want = decoded_form(obj)
    assert_same(unpackb(data), want)
    assert_same(reference_unpack(data), want)
    return data


def random_str(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(CHARS) for _ in range(n))


def random_scalar(rng: random.Random) -> object:
    kind = rng.randrange(8)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        value = rng.choice(BOUNDARY_INTS) + rng.choice([-1, 0, 1])
        return min(max(value, -(2**63)), 2**64 - 1)
    if kind == 2:
        return rng.randint(-(2**63), 2**64 - 1) >> rng.randrange(64)
    if kind == 3:
        return rng.choice(
            [0.0, -0.0, 1.5, -2.25, math.inf, -math.inf, 5e-324, 1.7976931348623157e308,
             rng.uniform(-1e6, 1e6), rng.random(), float(rng.randrange(1 << 53))]
        )  # fmt: skip
    if kind in (4, 5):
        return random_str(rng, rng.choice([0, 1, 3, 10, 31, 32, 40, 100]))
    n = rng.choice([0, 1, 5, 31, 32, 255, 256, 300])
    data = rng.randbytes(n)
    return rng.choice([data, data, bytearray(data), memoryview(data)])


def random_key(rng: random.Random) -> object:
    kind = rng.randrange(4)
    if kind == 0:
        return random_str(rng, rng.randrange(12))
    if kind == 1:
        return rng.randbytes(rng.randrange(12))
    if kind == 2:
        return rng.choice(BOUNDARY_INTS)
    return rng.choice([None, 1.5, -0.5])


def random_value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(10 if depth < 4 else 6)
    if kind < 6:
        return random_scalar(rng)
    n = rng.choice([0, 1, 2, 3, 7, 15, 16, 17])
    if kind in (6, 7):
        items = [random_value(rng, depth + 1) for _ in range(n)]
        return tuple(items) if rng.random() < 0.2 else items
    return {random_key(rng): random_value(rng, depth + 1) for _ in range(n)}


# --- encoding: byte-identical to msgpack ---------------------------------------------------------


@pytest.mark.parametrize("value", [None, True, False])
def test_constants(value: object) -> None:
    check(value)


@pytest.mark.parametrize("value", BOUNDARY_INTS)
def test_boundary_ints(value: int) -> None:
    check(value)


@pytest.mark.parametrize(
    ("value", "head"),
    [(127, b"\x7f"), (128, b"\xcc"), (255, b"\xcc"), (256, b"\xcd"), (65535, b"\xcd"),
     (65536, b"\xce"), (2**32 - 1, b"\xce"), (2**32, b"\xcf"), (-32, b"\xe0"), (-33, b"\xd0"),
     (-128, b"\xd0"), (-129, b"\xd1"), (-32768, b"\xd1"), (-32769, b"\xd2"),
     (-(2**31), b"\xd2"), (-(2**31) - 1, b"\xd3")],
)  # fmt: skip
def test_smallest_int_encoding(value: int, head: bytes) -> None:
    assert check(value)[:1] == head


@pytest.mark.parametrize("value", [0.0, -0.0, 1.0, 0.1, -1e300, math.inf, -math.inf, 5e-324])
def test_floats_are_float64(value: float) -> None:
    data = check(value)
    assert data[:1] == b"\xcb" and len(data) == 9


def test_nan_bits_survive() -> None:
    for bits in (0x7FF8000000000000, 0xFFF8000000000001, 0x7FF4000000000000):
        nan = array.array("d", bits.to_bytes(8, "little")).tolist()[0]
        data = packb(nan)
        assert data == reference(nan) == b"\xcb" + bits.to_bytes(8, "big")
        assert math.isnan(unpackb(data))


# float64 bit patterns whose bits must survive both ways: quiet and signalling NaNs with
# payloads and either sign, -0.0, infinities, the extreme subnormals and normals.
FLOAT64_BITS = [
    0x7FF8000000000000, 0xFFF8000000000001, 0x7FF4000000000000, 0x7FF0000000000001,
    0xFFFFFFFFFFFFFFFF, 0x7FFFFFFFFFFFFFFF, 0x0000000000000000, 0x8000000000000000,
    0x7FF0000000000000, 0xFFF0000000000000, 0x0000000000000001, 0x800FFFFFFFFFFFFF,
    0x0010000000000000, 0x7FEFFFFFFFFFFFFF, 0x3FF0000000000001, 0xBF847AE147AE147B,
]  # fmt: skip


@pytest.mark.parametrize("bits", FLOAT64_BITS, ids=hex)
def test_float64_bits_round_trip_exactly(bits: int) -> None:
    encoded = b"\xcb" + bits.to_bytes(8, "big")
    value = struct.unpack(">d", bits.to_bytes(8, "big"))[0]
    assert packb(value) == reference(value) == encoded
    # Decoded at the top level, as an array item and as a map value (separate code paths),
    # and packed again: the same 8 bytes.
    for head in (b"", b"\x91", b"\x81\xa1k"):
        got = unpackb(head + encoded)
        assert packb(got) == head + encoded
    assert struct.pack(">d", unpackb(encoded)) == bits.to_bytes(8, "big")


@pytest.mark.parametrize(
    "bits", [0x7FC00000, 0xFFC00001, 0x7FA00000, 0x00000001, 0x80000000, 0x7F800000, 0x3F800001],
    ids=hex,
)  # fmt: skip
def test_float32_bits_decode_like_msgpack(bits: int) -> None:
    encoded = b"\xca" + bits.to_bytes(4, "big")
    for head in (b"", b"\x91", b"\x81\xa1k"):
        # Compared as the float64 bits each decoder produced (NaN != NaN).
        assert packb(unpackb(head + encoded)) == reference(reference_unpack(head + encoded))


@pytest.mark.parametrize("n", BOUNDARY_LENGTHS)
def test_str_lengths(n: int) -> None:
    data = check("x" * n)
    head = 0xA0 | n if n < 32 else 0xD9 if n < 256 else 0xDA if n < 65536 else 0xDB
    assert data[0] == head
    # A multi-byte string whose utf-8 length, not its char count, crosses the boundary.
    check("\u20ac" * (n // 3) + "x" * (n % 3))


@pytest.mark.parametrize("n", BOUNDARY_LENGTHS)
def test_bin_lengths(n: int) -> None:
    data = check(bytes(range(256)) * (n // 256) + b"\xff" * (n % 256))
    assert data[0] == (0xC4 if n < 256 else 0xC5 if n < 65536 else 0xC6)
    check(bytearray(b"b" * n))
    check(memoryview(b"m" * n))


@pytest.mark.parametrize("n", BOUNDARY_LENGTHS)
def test_array_lengths(n: int) -> None:
    data = check([i % 200 - 50 for i in range(n)])
    assert data[0] == (0x90 | n if n < 16 else 0xDC if n < 65536 else 0xDD)
    check(tuple(["s", b"b"] * (n // 2) + [None] * (n % 2)))


@pytest.mark.parametrize("n", BOUNDARY_LENGTHS)
def test_map_lengths(n: int) -> None:
    data = check({i: -i for i in range(n)})
    assert data[0] == (0x80 | n if n < 16 else 0xDE if n < 65536 else 0xDF)
    check({b"K%d" % i: b"v" * (i % 300) for i in range(n)})


def test_task_body_shape() -> None:
    """What a runner actually sends: an argv list and an environment map of bytes."""
    env = {b"VAR%d" % i: b"value-%d" % i * (i % 40) for i in range(120)}
    body = {
        "cwd": b"/home/u/src/build",
        "argv": [b"gcc", b"-c", b"-O2", b"-o", b"foo.o", b"foo.c"] * 20,
        "env": env,
        "outputs": ["foo.o", "foo.d"],
        "credit": 16,
        "chunk": 262144,
        "timeout": 0.0,
    }
    assert len(check(body)) > 4000


@pytest.mark.parametrize("seed", range(8))
def test_random_values_match_msgpack(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        check(random_value(rng))


def test_subclasses_pack_like_msgpack() -> None:
    class Color(enum.IntEnum):
        RED = 300

    class Text(str):
        def __str__(self) -> str:
            return "overridden"

    point = collections.namedtuple("point", "x y")
    for value in [
        Color.RED,
        [Color.RED, Text("abc")],
        Text("é" * 40),
        collections.OrderedDict([("b", 1), ("a", 2)]),
        point(1, -200),
        type("Blob", (bytes,), {})(b"xyz"),
        type("Flt", (float,), {})(2.5),
    ]:
        assert packb(value) == reference(value), value


def test_memoryview_of_other_formats() -> None:
    ints = memoryview(array.array("i", [1, -2, 3]))
    assert packb(ints) == reference(ints)
    assert unpackb(packb(ints)) == ints.tobytes()
    strided = memoryview(b"abcdefgh")[::2]
    assert unpackb(packb(strided)) == b"aceg"


def test_int_out_of_range() -> None:
    for value in (2**64, -(2**63) - 1, 10**30):
        with pytest.raises(OverflowError):
            packb(value)
        with pytest.raises(OverflowError):
            reference(value)


@pytest.mark.parametrize("value", [{1, 2}, object(), 1j, frozenset(), [1, {"k": {3}}], type])
def test_unsupported_types(value: object) -> None:
    with pytest.raises(TypeError):
        packb(value)


def test_unencodable_str() -> None:
    with pytest.raises(UnicodeEncodeError):
        packb("lone \udc80 surrogate")
    with pytest.raises(UnicodeEncodeError):
        packb({"k": ["\ud800"]})


def test_pack_nesting_limit_and_cycles() -> None:
    cyclic: list = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError):
        packb(cyclic)
    deep: object = 0
    for _ in range(511):
        deep = [deep]
    assert packb(deep) == reference(deep)
    with pytest.raises(ValueError):
        packb([[deep]])


# --- decoding ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [0.0, -0.0, 1.5, 0.1, -3.4028234663852886e38, 1e-45, math.inf, -math.inf, 16777217.0]
)
def test_float32_from_msgpack(value: float) -> None:
    data = msgpack.packb(value, use_single_float=True)
    assert data[:1] == b"\xca"
    assert_same(unpackb(data), msgpack.unpackb(data))
    assert math.isnan(unpackb(msgpack.packb(math.nan, use_single_float=True)))


def test_non_minimal_encodings_decode() -> None:
    """Other encoders may not pick the smallest form: a decoder must accept every width."""
    assert_same(unpackb(b"\xcd\x00\x01"), 1)
    assert_same(unpackb(b"\xd3" + (5).to_bytes(8, "big", signed=True)), 5)
    assert_same(unpackb(b"\xd9\x01a"), "a")
    assert_same(unpackb(b"\xdb\x00\x00\x00\x01a"), "a")
    assert_same(unpackb(b"\xc6\x00\x00\x00\x02ab"), b"ab")
    assert_same(unpackb(b"\xdc\x00\x01\xc0"), [None])
    assert_same(unpackb(b"\xdf\x00\x00\x00\x01\xa1k\xc3"), {"k": True})


def test_accepts_buffers() -> None:
    data = packb({"a": [1, b"x"]})
    for buf in (bytearray(data), memoryview(data)):
        assert unpackb(buf) == {"a": [1, b"x"]}
    with pytest.raises(TypeError):
        unpackb("not bytes")  # type: ignore[arg-type]


def test_int_map_keys_and_duplicates() -> None:
    # msgpack-python's default rejects non-str keys; minipack accepts any hashable key.
    assert unpackb(b"\x82\x01\xa1a\xc0\xc2") == {1: "a", None: False}
    assert unpackb(b"\x82\xa1k\x01\xa1k\x02") == {"k": 2}  # last one wins, like msgpack


def test_imports_no_extension_module() -> None:
    """The runner imports this once per compile: an extension module such as `_struct` is a
    shared library on many builds, and its dlopen costs ~0.4 ms."""
    root = Path(__file__).resolve().parents[2]
    code = (
        f"import sys; sys.path.insert(0, {str(root)!r}); before = set(sys.modules)\n"
        "import spraycc.wire.minipack\n"
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()  # fmt: skip
    assert set(out) <= with_packages({"spraycc.wire.minipack"}) | {"__future__"}, out


def test_unpack_error_is_value_error() -> None:
    assert issubclass(UnpackError, ValueError)


@pytest.mark.parametrize(
    "data",
    [
        b"",  # nothing at all
        b"\x92\x01",  # array of 2 with 1 item
        b"\x81\xa1k",  # map value missing
        b"\xcd\x01",  # uint16 cut
        b"\xcb\x00\x00\x00",  # float64 cut
        b"\xca\x00",  # float32 cut
        b"\xd9",  # str8 without its length
        b"\xd9\x05abc",  # str8 cut
        b"\xc5\x00",  # bin16 length cut
        b"\xc6\x00\x00\x00\x04abc",  # bin32 cut
        b"\xdc\x00",  # array16 length cut
        b"\xde\x00\x01\x01",  # map16 value missing
    ],
)
def test_truncated(data: bytes) -> None:
    with pytest.raises(UnpackError):
        unpackb(data)


# Every type byte followed by a fixed-width value or length: (type byte, width in bytes).
FIXED_WIDTH = [
    (0xCA, 4), (0xCB, 8), (0xCC, 1), (0xCD, 2), (0xCE, 4), (0xCF, 8), (0xD0, 1), (0xD1, 2),
    (0xD2, 4), (0xD3, 8), (0xC4, 1), (0xC5, 2), (0xC6, 4), (0xD9, 1), (0xDA, 2), (0xDB, 4),
    (0xDC, 2), (0xDD, 4), (0xDE, 2), (0xDF, 4),
]  # fmt: skip


@pytest.mark.parametrize(("head", "width"), FIXED_WIDTH, ids=lambda v: f"{v:#x}")
def test_truncated_fixed_width(head: int, width: int) -> None:
    """A slice past the end comes out short instead of failing: every cut of the value or
    length must still be caught, wherever the value sits (each place has its own fast path)."""
    # Top level; array item; map value; map key; later array item; later map value. (The
    # containers are small enough to pass their own "declared n items" check.)
    places = (b"", b"\x91", b"\x81\xa1k", b"\x82\xa1k\x00", b"\x92\x00", b"\x82\xa1k\x00\xa1j")
    for cut in range(width):
        value = bytes([head]) + bytes(range(1, cut + 1))
        for place in places:
            with pytest.raises(UnpackError, match="truncated"):
                unpackb(place + value)
    # The whole width decodes (to 0, 0.0, or an empty str, bin, array or map), like msgpack.
    whole = bytes([head]) + bytes(width)
    assert_same(unpackb(whole), reference_unpack(whole))
    assert_same(unpackb(b"\x91" + whole), reference_unpack(b"\x91" + whole))


@pytest.mark.parametrize("data", [b"\xc0\xc0", b"\x90\x00", packb({"a": 1}) + b"\x00", b"\x01 "])
def test_trailing_bytes(data: bytes) -> None:
    with pytest.raises(UnpackError, match="trailing"):
        unpackb(data)


@pytest.mark.parametrize(
    "data",
    [
        b"\xc1",  # never used
        b"\xd4\x01\x00",  # fixext1
        b"\xd5\x01\x00\x00",  # fixext2
        b"\xd6\xff\x00\x00\x00\x00",  # timestamp32
        b"\xd7\xff" + bytes(8),  # timestamp64
        b"\xd8\x01" + bytes(16),  # fixext16
        b"\xc7\x00\x05",  # ext8, empty
        b"\xc7\x0c\xff" + bytes(12),  # timestamp96
        b"\xc8\x00\x01\x05\x00",  # ext16
        b"\xc9\x00\x00\x00\x01\x05\x00",  # ext32
        b"\x91\xc1",  # nested
    ],
)
def test_unsupported_type_bytes(data: bytes) -> None:
    with pytest.raises(UnpackError, match="unsupported"):
        unpackb(data)


def test_msgpack_ext_and_timestamp_rejected() -> None:
    for value in (msgpack.ExtType(5, b"abc"), msgpack.Timestamp(1, 2), msgpack.Timestamp(2**40)):
        with pytest.raises(UnpackError):
            unpackb(msgpack.packb([1, value]))


def nested_arrays(levels: int) -> bytes:
    return b"\x91" * levels + b"\x00"


def nested_maps(levels: int) -> bytes:
    return b"\x81\xa1k" * levels + b"\x00"


@pytest.mark.parametrize("nest", [nested_arrays, nested_maps])
def test_max_depth(nest) -> None:
    assert reference_unpack(nest(32)) == unpackb(nest(32))
    with pytest.raises(UnpackError, match="max_depth"):
        unpackb(nest(33))
    unpackb(nest(4), max_depth=4)
    with pytest.raises(UnpackError, match="max_depth"):
        unpackb(nest(5), max_depth=4)
    assert unpackb(b"\x05", max_depth=0) == 5
    with pytest.raises(UnpackError):
        unpackb(b"\x90", max_depth=0)
    with pytest.raises(UnpackError):  # far past the recursion limit: still only UnpackError
        unpackb(nest(100_000), max_depth=1_000_000)


def test_max_items_counts_the_whole_message() -> None:
    assert unpackb(packb([0] * 10), max_items=10) == [0] * 10
    with pytest.raises(UnpackError, match="max_items"):
        unpackb(packb([0] * 11), max_items=10)
    nested = packb([[0] * 5, [0] * 5])  # 2 + 5 + 5 items
    assert unpackb(nested, max_items=12)
    with pytest.raises(UnpackError, match="max_items"):
        unpackb(nested, max_items=11)
    with pytest.raises(UnpackError, match="max_items"):
        unpackb(packb({i: i for i in range(6)}), max_items=5)  # a pair counts as one item


@pytest.mark.parametrize(
    "data",
    [
        b"\xdd\xff\xff\xff\xff",  # array32 of 2**32-1 items, no items
        b"\xdd\xff\xff\xff\xff" + b"\x00" * 1000,
        b"\xdf\xff\xff\xff\xff" + b"\x00" * 1000,  # map32
        b"\xdf\x00\x00\x02\x00" + b"\x00" * 1000,  # 512 pairs need 1024 bytes
        b"\xdc\xff\xff" + b"\x00" * 100,  # array16
        b"\xc6\xff\xff\xff\xff",  # bin32 of 4 GiB
        b"\xdb\xff\xff\xff\xff" + b"a" * 1000,  # str32 of 4 GiB
        b"\x91" * 20 + b"\xdd\x7f\xff\xff\xff",  # a bomb under some nesting
    ],
)
def test_bombs_fail_before_allocating(data: bytes) -> None:
    tracemalloc.start()
    try:
        start = time.perf_counter()
        with pytest.raises(UnpackError, match=r"declared|only"):
            unpackb(data)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 256 * 1024


@pytest.mark.parametrize(
    "data",
    [b"\x81\x90\x00", b"\x81\x80\x00", b"\x81\x91\x01\x00", b"\x91\x81\x81\x00\x00\x00"],
)
def test_unhashable_keys(data: bytes) -> None:
    with pytest.raises(UnpackError, match="unhashable"):
        unpackb(data)


@pytest.mark.parametrize(
    "data", [b"\xa2\xc3\x28", b"\xa1\xff", b"\xa3\xed\xa0\x80", b"\xd9\x01\x80"]
)
def test_invalid_utf8(data: bytes) -> None:
    with pytest.raises(UnpackError, match="utf-8"):
        unpackb(data)


def fuzz_corpus(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [packb(random_value(rng)) for _ in range(150)]


@pytest.mark.parametrize("seed", range(3))
def test_every_truncation_fails(seed: int) -> None:
    """msgpack is prefix-free: no proper prefix of a message is a complete message."""
    checked = 0
    for data in fuzz_corpus(seed):
        # Every cut of short messages; 60 random cuts (always including the last byte) of
        # long ones.
        cuts = range(len(data))
        if len(data) > 60:
            cuts = [len(data) - 1, *random.Random(len(data)).sample(range(len(data)), 59)]
        for cut in cuts:
            with pytest.raises(UnpackError):
                unpackb(data[:cut])
            checked += 1
    assert checked > 1000


def only_unpack_error(data: bytes) -> object:
    try:
        return unpackb(data)
    except UnpackError:
        return UnpackError


@pytest.mark.parametrize("seed", range(3))
def test_mutations_agree_with_msgpack(seed: int) -> None:
    """Flip, insert and delete bytes in valid messages: minipack raises only UnpackError, and
    whenever msgpack decodes the result into the supported subset, minipack decodes the same."""
    rng = random.Random(1000 + seed)
    agreed = 0
    for data in fuzz_corpus(seed):
        for _ in range(20):
            buf = bytearray(data)
            for _ in range(rng.randrange(1, 4)):
                where = rng.randrange(len(buf) + 1)
                op = rng.randrange(3)
                if op == 0 and where < len(buf):
                    buf[where] = rng.randrange(256)
                elif op == 1:
                    buf[where:where] = bytes([rng.randrange(256)])
                else:
                    del buf[where : where + 1]
            mutated = bytes(buf)
            got = only_unpack_error(mutated)
            try:
                want = reference_unpack(mutated)
            except Exception:  # any msgpack failure: nothing to compare
                continue
            if has_ext(want) or depth_of(want) > 32:
                assert got is UnpackError
                continue
            assert got is not UnpackError, mutated
            assert_same(got, want)
            agreed += 1
    assert agreed > 100


def has_ext(obj: object) -> bool:
    if isinstance(obj, (msgpack.ExtType, msgpack.Timestamp)):
        return True
    if isinstance(obj, list):
        return any(has_ext(x) for x in obj)
    if isinstance(obj, dict):
        return any(has_ext(k) or has_ext(v) for k, v in obj.items())
    return False


def depth_of(obj: object) -> int:
    if isinstance(obj, list):
        return 1 + max((depth_of(x) for x in obj), default=0)
    if isinstance(obj, dict):
        return 1 + max((depth_of(v) for v in obj.values()), default=0)
    return 0


@pytest.mark.parametrize("seed", range(4))
def test_random_garbage_only_raises_unpack_error(seed: int) -> None:
    rng = random.Random(seed)
    # Bias the first byte towards containers and length-prefixed types: pure noise mostly
    # fails on byte one, which tests little.
    heads = [0x80, 0x8F, 0x90, 0x9F, 0xA5, 0xC4, 0xC5, 0xC6, 0xD9, 0xDC, 0xDD, 0xDE, 0xDF]
    outcomes = collections.Counter()
    for _ in range(5000):
        data = bytes([rng.choice(heads)]) + rng.randbytes(rng.randrange(40))
        if rng.random() < 0.5:
            data = rng.randbytes(rng.randrange(1, 40))
        result = only_unpack_error(data)
        outcomes[result is UnpackError] += 1
    assert outcomes[True] > 1000 and outcomes[False] > 10
