"""A small msgpack codec for the runner's start-up path and the broker's headers.

Importing the `msgpack` package costs the runner ~6 ms (it pulls in `datetime`). This module
imports no extension module at all, not even `_struct`: on a Python built with shared
extension modules (pyenv's default) that is a shared library whose dlopen costs ~0.4 ms, and
the runner starts once per compile. Integers and lengths go through `int.to_bytes` /
`int.from_bytes`, floats through a `memoryview` cast, all builtin; only `sys` (built into the
interpreter) is imported, for the byte order. It covers the subset spraycc puts on the wire:

* `packb` encodes None, bool, int (-2**63 .. 2**64-1), float (always float64), str (strict
  utf-8), bytes/bytearray/memoryview (bin), list/tuple (array) and dict (map). Its output is
  byte-identical to ``msgpack.packb(obj, use_bin_type=True)``: always the smallest encoding.
* `unpackb` decodes the same subset plus float32. It is safe on hostile input: every failure is
  an `UnpackError`, a declared length is checked against the bytes that remain *before*
  anything is allocated (a 6-byte "array of 2**32 items" fails at once), and nesting and the
  total number of items are bounded.

Ext types (including timestamps) are deliberately unsupported: nothing in spraycc uses them.
"""

from __future__ import annotations

import sys

# `typing` is for the type checker only: the runner must not import it (its start-up path;
# tests/test_layers.py). Type checkers treat this name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Literal

__all__ = ["UnpackError", "packb", "unpackb"]


class UnpackError(ValueError):
    """The bytes are not one complete msgpack object of the supported subset (or exceed a
    limit). The caller should treat the message as garbage from the peer and drop it."""


# msgpack-python's own default nesting limit for packing; beyond it (or on a cycle) packb
# raises ValueError instead of overflowing the C stack.
_PACK_DEPTH = 512

# One-byte encodings (fixints, fixstr/fixarray/fixmap headers) are slices of this: CPython
# hands out cached 1-byte objects, and no table has to be built at import (the runner imports
# this module once per compile and packs one message).
_ALL = bytes(range(256))
# A type byte and its big-endian payload are packed as one int: (0xC4 << 8) + n becomes
# b"\xc4" + n as 2 bytes. int.to_bytes/from_bytes default to big-endian (Python 3.11+), which
# is msgpack's byte order.

# memoryview casts use the machine's byte order; msgpack floats are big-endian.
_LITTLE = sys.byteorder == "little"


def packb(obj: object) -> bytes:
    """Encode `obj` exactly as ``msgpack.packb(obj, use_bin_type=True)`` would.

    Raises TypeError for an unsupported type, OverflowError for an int outside
    -2**63 .. 2**64-1, UnicodeEncodeError (a ValueError) for a str that is not valid unicode
    (lone surrogates) and ValueError for nesting deeper than 512 (or a cycle).
    """
    out: list[bytes] = []
    _pack(obj, out.append, _PACK_DEPTH)
    return b"".join(out)


def _pack(obj: Any, put, depth: int) -> None:  # dispatched on exact type(obj)
    # Exact-type checks first (the common case, and cheapest); subclasses (an IntEnum, a
    # str subclass...) take the isinstance path at the end, as msgpack accepts them too.
    t = type(obj)
    if t is bytes or t is bytearray:
        n = len(obj)
        put((0xC400 + n).to_bytes(2) if n < 0x100 else _bin_header(n))
        put(obj)  # b"".join takes a bytearray as is: no copy here
    elif t is str:
        data = obj.encode()  # strict utf-8: a lone surrogate raises UnicodeEncodeError
        n = len(data)
        if n < 32:
            put(_ALL[0xA0 + n : 0xA1 + n])
        else:
            put((0xD900 + n).to_bytes(2) if n < 0x100 else _str_header(n))
        put(data)
    elif t is int:
        _pack_int(obj, put)
    elif obj is None:
        put(b"\xc0")
    elif obj is True:
        put(b"\xc3")
    elif obj is False:
        put(b"\xc2")
    elif t is float:
        _pack_float(obj, put)
    elif t is list or t is tuple:
        if depth <= 0:
            raise ValueError(f"nesting deeper than {_PACK_DEPTH} levels (or a cycle)")
        n = len(obj)
        put(_ALL[0x90 + n : 0x91 + n] if n < 16 else _container_header(n, 0xDC, "array"))
        depth -= 1
        for item in obj:
            # Short bytes and str inline: they are most of what spraycc sends (argv).
            it = type(item)
            if it is bytes and len(item) < 0x100:
                put((0xC400 + len(item)).to_bytes(2))
                put(item)
            elif it is str and len(item) < 8:  # < 8 chars: at most 31 utf-8 bytes: fixstr
                data = item.encode()
                n = len(data)
                put(_ALL[0xA0 + n : 0xA1 + n])
                put(data)
            elif it is int:  # and ints (header fields) skip _pack's type tests
                _pack_int(item, put)
            else:
                _pack(item, put, depth)
    elif t is dict:
        if depth <= 0:
            raise ValueError(f"nesting deeper than {_PACK_DEPTH} levels (or a cycle)")
        n = len(obj)
        put(_ALL[0x80 + n : 0x81 + n] if n < 16 else _container_header(n, 0xDE, "map"))
        depth -= 1
        for key, value in obj.items():
            # Short bytes inline: an environment is a map of them.
            if type(key) is bytes and len(key) < 0x100:
                put((0xC400 + len(key)).to_bytes(2))
                put(key)
            else:
                _pack(key, put, depth)
            if type(value) is bytes and len(value) < 0x100:
                put((0xC400 + len(value)).to_bytes(2))
                put(value)
            else:
                _pack(value, put, depth)
    elif t is memoryview:
        # msgpack packs any buffer by its raw bytes (nbytes), whatever its item format. A
        # contiguous view goes to join as a flat byte view, without a copy.
        view = obj.cast("B") if obj.c_contiguous else obj.tobytes()
        n = len(view)
        put((0xC400 + n).to_bytes(2) if n < 0x100 else _bin_header(n))
        put(view)
    elif isinstance(obj, int):
        _pack_int(int.__index__(obj), put)
    elif isinstance(obj, float):
        _pack_float(obj, put)
    elif isinstance(obj, str):
        _pack(str.__str__(obj), put, depth)  # the exact str, whatever the subclass overrides
    elif isinstance(obj, (bytes, bytearray)):
        _pack(memoryview(obj), put, depth)
    elif isinstance(obj, (list, tuple)):
        _pack(list(obj), put, depth)
    elif isinstance(obj, dict):
        _pack(dict(obj.items()), put, depth)
    else:
        raise TypeError(f"can not serialize {t.__name__!r} object")


def _bin_header(n: int) -> bytes:
    if n < 0x10000:
        return ((0xC5 << 16) + n).to_bytes(3)
    if n < 0x100000000:
        return ((0xC6 << 32) + n).to_bytes(5)
    raise ValueError(f"bin of {n} bytes is too large for msgpack")


def _str_header(n: int) -> bytes:
    if n < 0x10000:
        return ((0xDA << 16) + n).to_bytes(3)
    if n < 0x100000000:
        return ((0xDB << 32) + n).to_bytes(5)
    raise ValueError(f"str of {n} bytes is too large for msgpack")


def _container_header(n: int, marker16: int, kind: str) -> bytes:
    if n < 0x10000:
        return ((marker16 << 16) + n).to_bytes(3)
    if n < 0x100000000:
        return (((marker16 + 1) << 32) + n).to_bytes(5)
    raise ValueError(f"{kind} of {n} items is too large for msgpack")


def _pack_int(v: int, put) -> None:
    if v >= 0:
        if v < 0x80:
            put(_ALL[v : v + 1])
        elif v < 0x100:
            put((0xCC00 + v).to_bytes(2))
        elif v < 0x10000:
            put(((0xCD << 16) + v).to_bytes(3))
        elif v < 0x100000000:
            put(((0xCE << 32) + v).to_bytes(5))
        elif v < 0x10000000000000000:
            put(((0xCF << 64) + v).to_bytes(9))
        else:
            raise OverflowError("Integer value out of range")
    elif v >= -32:
        put(_ALL[v + 0x100 : v + 0x101])
    # A negative v is masked to its two's complement: v & 0xFF == 0x100 + v.
    elif v >= -0x80:
        put((0xD000 + (v & 0xFF)).to_bytes(2))
    elif v >= -0x8000:
        put(((0xD1 << 16) + (v & 0xFFFF)).to_bytes(3))
    elif v >= -0x80000000:
        put(((0xD2 << 32) + (v & 0xFFFFFFFF)).to_bytes(5))
    elif v >= -0x8000000000000000:
        put(((0xD3 << 64) + (v & 0xFFFFFFFFFFFFFFFF)).to_bytes(9))
    else:
        raise OverflowError("Integer value out of range")


def _pack_float(v: float, put) -> None:
    # The float's 8 bytes are written through a float64 view of a fresh buffer (a shared one
    # would not be thread-safe), in the machine's order: reversed on little-endian. The bits
    # are copied as they are, so NaN payloads, -0.0 and subnormals survive.
    buf = bytearray(8)
    memoryview(buf).cast("d")[0] = v
    if _LITTLE:
        buf.reverse()
    put(b"\xcb")
    put(buf)  # b"".join takes the bytearray as is


# --- decoding ----------------------------------------------------------------------------------

# Fixed-width ints, type byte -> payload size (uint8 has its own fast path). Unsigned and
# signed apart: a keyword argument to int.from_bytes costs.
_UINTS = {0xCD: 2, 0xCE: 4, 0xCF: 8}
_SINTS = {0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}
# Looked up once: `int.from_bytes` binds a class method on every use, which costs about as much
# as the call.
_from_bytes = int.from_bytes
_UNSUPPORTED = {0xC1: "never-used type byte 0xc1"}
_UNSUPPORTED.update(
    {b: f"ext type 0x{b:02x}" for b in (0xC7, 0xC8, 0xC9, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8)}
)


def unpackb(
    data: bytes | bytearray | memoryview, *, max_depth: int = 32, max_items: int = 1 << 20
) -> object:
    """Decode exactly one msgpack object that fills all of `data`.

    Arrays become lists, maps dicts, str str, bin bytes. `max_depth` bounds the nesting of
    arrays and maps (``[]`` has depth 1, ``[[]]`` depth 2; scalars 0); `max_items` bounds the
    total number of array elements plus map pairs in the whole message. Any malformed,
    truncated, over-long, trailing or unsupported input raises `UnpackError`, never another
    exception.
    """
    if type(data) is not bytes:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"unpackb needs bytes, not {type(data).__name__}")
        data = bytes(data)  # one copy; bytes slices are what bin objects decode to
    budget = [max_items]
    try:
        obj, pos = _obj(data, 0, max_depth, budget)
    except IndexError:  # a type byte or length byte past the end
        raise UnpackError("truncated data") from None
    except (RecursionError, MemoryError) as exc:  # defensive: the limits should prevent both
        raise UnpackError(f"cannot decode: {type(exc).__name__}") from None
    if pos != len(data):
        raise UnpackError(f"{len(data) - pos} trailing bytes after the object")
    return obj


# Every function below takes the input, a position, the nesting still allowed and the item
# budget, and returns (object, next position). Reading a single byte past the end of `data`
# raises IndexError, which unpackb turns into UnpackError; everything read as a slice (wider
# values, lengths, str and bin) needs an explicit check, as a slice silently comes out short,
# and so do containers, before anything is allocated.


def _obj(data: bytes, pos: int, depth: int, budget: list[int]) -> tuple[object, int]:
    b = data[pos]
    pos += 1
    if b < 0x80:
        return b, pos
    if b >= 0xE0:
        return b - 0x100, pos
    if b < 0xC0:
        if b >= 0xA0:
            return _str(data, pos, b & 0x1F)
        if b >= 0x90:
            return _array(data, pos, b & 0x0F, depth, budget)
        return _map(data, pos, b & 0x0F, depth, budget)
    if b == 0xC4:
        return _bin(data, pos + 1, data[pos])
    if b == 0xD9:
        return _str(data, pos + 1, data[pos])
    if b == 0xC0:
        return None, pos
    if b == 0xC2:
        return False, pos
    if b == 0xC3:
        return True, pos
    if b == 0xCC:
        return data[pos], pos + 1
    size = _UINTS.get(b)
    if size is not None:
        return _from_bytes(_fixed(data, pos, size)), pos + size
    if b == 0xCB:
        return _float(_fixed(data, pos, 8), "d"), pos + 8
    size = _SINTS.get(b)
    if size is not None:
        return _from_bytes(_fixed(data, pos, size), signed=True), pos + size
    if b == 0xCA:
        return _float(_fixed(data, pos, 4), "f"), pos + 4
    if b == 0xC5:
        return _bin(data, pos + 2, _length(data, pos, 2))
    if b == 0xC6:
        return _bin(data, pos + 4, _length(data, pos, 4))
    if b == 0xDA:
        return _str(data, pos + 2, _length(data, pos, 2))
    if b == 0xDB:
        return _str(data, pos + 4, _length(data, pos, 4))
    if b == 0xDC:
        return _array(data, pos + 2, _length(data, pos, 2), depth, budget)
    if b == 0xDD:
        return _array(data, pos + 4, _length(data, pos, 4), depth, budget)
    if b == 0xDE:
        return _map(data, pos + 2, _length(data, pos, 2), depth, budget)
    if b == 0xDF:
        return _map(data, pos + 4, _length(data, pos, 4), depth, budget)
    raise UnpackError(f"unsupported {_UNSUPPORTED[b]} at offset {pos - 1}")


def _fixed(data: bytes, pos: int, size: int) -> bytes:
    """The `size` bytes of a fixed-width value or length at `pos` (a slice would silently
    come out short)."""
    end = pos + size
    if end > len(data):
        raise UnpackError(
            f"truncated data: {size}-byte value at offset {pos}, but only {len(data) - pos} left"
        )
    return data[pos:end]


def _length(data: bytes, pos: int, size: int) -> int:
    """The big-endian unsigned `size`-byte length at `pos`."""
    return _from_bytes(_fixed(data, pos, size))


def _float(raw: bytes, fmt: Literal["d", "f"]) -> float:
    """The big-endian float64 (`fmt` "d") or float32 ("f") in `raw`. A view casts in the
    machine's order, so little-endian takes the bytes reversed; the bits go through
    unchanged: NaN payloads and -0.0 survive."""
    return memoryview(raw[::-1] if _LITTLE else raw).cast(fmt)[0]


def _bin(data: bytes, pos: int, n: int) -> tuple[bytes, int]:
    end = pos + n
    if end > len(data):
        raise UnpackError(f"bin of {n} bytes at offset {pos}, but only {len(data) - pos} left")
    return data[pos:end], end


def _str(data: bytes, pos: int, n: int) -> tuple[str, int]:
    end = pos + n
    if end > len(data):
        raise UnpackError(f"str of {n} bytes at offset {pos}, but only {len(data) - pos} left")
    try:
        return data[pos:end].decode(), end
    except UnicodeDecodeError as exc:
        raise UnpackError(f"invalid utf-8 in str at offset {pos}: {exc}") from None


def _check_container(
    data: bytes, pos: int, n: int, size: int, depth: int, budget: list[int]
) -> None:
    # Every item takes at least one byte: a count the remaining bytes cannot hold is rejected
    # before anything is allocated (the "msgpack bomb").
    if n * size > len(data) - pos:
        raise UnpackError(
            f"declared {n} items at offset {pos}, but only {len(data) - pos} bytes left"
        )
    if depth <= 0:
        raise UnpackError("nesting deeper than max_depth")
    budget[0] -= n
    if budget[0] < 0:
        raise UnpackError("more than max_items items in the message")


def _array(data: bytes, pos: int, n: int, depth: int, budget: list[int]) -> tuple[list, int]:
    _check_container(data, pos, n, 1, depth, budget)
    depth -= 1
    out: list[object] = []
    put = out.append
    item: object
    for _ in range(n):
        b = data[pos]
        # Inline the leaves spraycc sends most (small ints, short bin and str).
        if b < 0x80:
            put(b)
            pos += 1
        elif b == 0xC4:
            item, pos = _bin(data, pos + 2, data[pos + 1])
            put(item)
        elif 0xA0 <= b < 0xC0:
            item, pos = _str(data, pos + 1, b & 0x1F)
            put(item)
        else:
            item, pos = _obj(data, pos, depth, budget)
            put(item)
    return out, pos


def _map(data: bytes, pos: int, n: int, depth: int, budget: list[int]) -> tuple[dict, int]:
    _check_container(data, pos, n, 2, depth, budget)
    depth -= 1
    out: dict[object, object] = {}
    key: object
    value: object
    for _ in range(n):
        b = data[pos]
        if b == 0xC4:
            key, pos = _bin(data, pos + 2, data[pos + 1])
        elif 0xA0 <= b < 0xC0:
            key, pos = _str(data, pos + 1, b & 0x1F)
        else:
            key, pos = _obj(data, pos, depth, budget)
        if data[pos] == 0xC4:
            value, pos = _bin(data, pos + 2, data[pos + 1])
        else:
            value, pos = _obj(data, pos, depth, budget)
        try:
            out[key] = value
        except TypeError:  # a list or dict as key
            raise UnpackError(f"unhashable map key of type {type(key).__name__}") from None
    return out, pos
