"""A small msgpack codec for the runner's start-up path and the broker's headers.

Importing the `msgpack` package costs the runner ~6 ms (it pulls in `datetime`); this module
imports only the builtin `_struct`. It covers the subset spraycc puts on the wire:

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

from _struct import Struct
from _struct import error as StructError

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
_B_B = Struct(">BB").pack
_B_H = Struct(">BH").pack
_B_I = Struct(">BI").pack
_B_Q = Struct(">BQ").pack
_B_b = Struct(">Bb").pack
_B_h = Struct(">Bh").pack
_B_i = Struct(">Bi").pack
_B_q = Struct(">Bq").pack
_B_d = Struct(">Bd").pack


def packb(obj: object) -> bytes:
    """Encode `obj` exactly as ``msgpack.packb(obj, use_bin_type=True)`` would.

    Raises TypeError for an unsupported type, OverflowError for an int outside
    -2**63 .. 2**64-1, UnicodeEncodeError (a ValueError) for a str that is not valid unicode
    (lone surrogates) and ValueError for nesting deeper than 512 (or a cycle).
    """
    out: list[bytes] = []
    _pack(obj, out.append, _PACK_DEPTH)
    return b"".join(out)


def _pack(obj: object, put, depth: int) -> None:
    # Exact-type checks first (the common case, and cheapest); subclasses (an IntEnum, a
    # str subclass...) take the isinstance path at the end, as msgpack accepts them too.
    t = type(obj)
    if t is bytes or t is bytearray:
        n = len(obj)
        put(_B_B(0xC4, n) if n < 0x100 else _bin_header(n))
        put(obj)  # b"".join takes a bytearray as is: no copy here
    elif t is str:
        data = obj.encode()  # strict utf-8: a lone surrogate raises UnicodeEncodeError
        n = len(data)
        if n < 32:
            put(_ALL[0xA0 + n : 0xA1 + n])
        else:
            put(_B_B(0xD9, n) if n < 0x100 else _str_header(n))
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
        put(_B_d(0xCB, obj))
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
                put(_B_B(0xC4, len(item)))
                put(item)
            elif it is str and len(item) < 8:  # < 8 chars: at most 31 utf-8 bytes: fixstr
                data = item.encode()
                n = len(data)
                put(_ALL[0xA0 + n : 0xA1 + n])
                put(data)
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
                put(_B_B(0xC4, len(key)))
                put(key)
            else:
                _pack(key, put, depth)
            if type(value) is bytes and len(value) < 0x100:
                put(_B_B(0xC4, len(value)))
                put(value)
            else:
                _pack(value, put, depth)
    elif t is memoryview:
        # msgpack packs any buffer by its raw bytes (nbytes), whatever its item format. A
        # contiguous view goes to join as a flat byte view, without a copy.
        view = obj.cast("B") if obj.c_contiguous else obj.tobytes()
        n = len(view)
        put(_B_B(0xC4, n) if n < 0x100 else _bin_header(n))
        put(view)
    elif isinstance(obj, int):
        _pack_int(int.__index__(obj), put)
    elif isinstance(obj, float):
        put(_B_d(0xCB, obj))
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
        return _B_H(0xC5, n)
    if n < 0x100000000:
        return _B_I(0xC6, n)
    raise ValueError(f"bin of {n} bytes is too large for msgpack")


def _str_header(n: int) -> bytes:
    if n < 0x10000:
        return _B_H(0xDA, n)
    if n < 0x100000000:
        return _B_I(0xDB, n)
    raise ValueError(f"str of {n} bytes is too large for msgpack")


def _container_header(n: int, marker16: int, kind: str) -> bytes:
    if n < 0x10000:
        return _B_H(marker16, n)
    if n < 0x100000000:
        return _B_I(marker16 + 1, n)
    raise ValueError(f"{kind} of {n} items is too large for msgpack")


def _pack_int(v: int, put) -> None:
    if v >= 0:
        if v < 0x80:
            put(_ALL[v : v + 1])
        elif v < 0x100:
            put(_B_B(0xCC, v))
        elif v < 0x10000:
            put(_B_H(0xCD, v))
        elif v < 0x100000000:
            put(_B_I(0xCE, v))
        elif v < 0x10000000000000000:
            put(_B_Q(0xCF, v))
        else:
            raise OverflowError("Integer value out of range")
    elif v >= -32:
        put(_ALL[v + 0x100 : v + 0x101])
    elif v >= -0x80:
        put(_B_b(0xD0, v))
    elif v >= -0x8000:
        put(_B_h(0xD1, v))
    elif v >= -0x80000000:
        put(_B_i(0xD2, v))
    elif v >= -0x8000000000000000:
        put(_B_q(0xD3, v))
    else:
        raise OverflowError("Integer value out of range")


# --- decoding ----------------------------------------------------------------------------------

_U16 = Struct(">H").unpack_from
_U32 = Struct(">I").unpack_from
_U64 = Struct(">Q").unpack_from
_I8 = Struct(">b").unpack_from
_I16 = Struct(">h").unpack_from
_I32 = Struct(">i").unpack_from
_I64 = Struct(">q").unpack_from
_F32 = Struct(">f").unpack_from
_F64 = Struct(">d").unpack_from

# Fixed-width scalars: type byte -> (payload size, decoder).
_SCALARS = {
    0xCA: (4, _F32),
    0xCB: (8, _F64),
    0xCD: (2, _U16),
    0xCE: (4, _U32),
    0xCF: (8, _U64),
    0xD0: (1, _I8),
    0xD1: (2, _I16),
    0xD2: (4, _I32),
    0xD3: (8, _I64),
}
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
    except StructError:  # a fixed-width value past the end
        raise UnpackError("truncated data") from None
    except (RecursionError, MemoryError) as exc:  # defensive: the limits should prevent both
        raise UnpackError(f"cannot decode: {type(exc).__name__}") from None
    if pos != len(data):
        raise UnpackError(f"{len(data) - pos} trailing bytes after the object")
    return obj


# Every function below takes the input, a position, the nesting still allowed and the item
# budget, and returns (object, next position). Running off the end of `data` raises IndexError
# or struct.error, which unpackb turns into UnpackError; explicit checks are only needed where
# Python would silently truncate (slices) or allocate (containers).


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
    scalar = _SCALARS.get(b)
    if scalar is not None:
        size, unpack = scalar
        return unpack(data, pos)[0], pos + size
    if b == 0xC5:
        return _bin(data, pos + 2, _U16(data, pos)[0])
    if b == 0xC6:
        return _bin(data, pos + 4, _U32(data, pos)[0])
    if b == 0xDA:
        return _str(data, pos + 2, _U16(data, pos)[0])
    if b == 0xDB:
        return _str(data, pos + 4, _U32(data, pos)[0])
    if b == 0xDC:
        return _array(data, pos + 2, _U16(data, pos)[0], depth, budget)
    if b == 0xDD:
        return _array(data, pos + 4, _U32(data, pos)[0], depth, budget)
    if b == 0xDE:
        return _map(data, pos + 2, _U16(data, pos)[0], depth, budget)
    if b == 0xDF:
        return _map(data, pos + 4, _U32(data, pos)[0], depth, budget)
    raise UnpackError(f"unsupported {_UNSUPPORTED[b]} at offset {pos - 1}")


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
    out = []
    put = out.append
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
    out = {}
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
