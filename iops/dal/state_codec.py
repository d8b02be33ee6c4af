"""A lossless binary encoding of detector-state JSON, so one series' state fits fewer DynamoDB write units.

DynamoDB bills a write per started KB, and zlib of the state's JSON is still about 2.5 KB: most
of it is numbers written as up to 17 decimal digits. Here a number is stored as a scaled integer
(the decimal that reproduces it exactly) and a list of numbers (profiles, timestamps, recent
values, which move little from one slot to the next) as the differences of those integers at one
scale, in byte planes that zlib packs well; what is not exactly representable that way stays an
8-byte double. Decoding gives back the same JSON value, types included (1 stays an int, 1.0 a
float), so ``json.dumps`` of the decoded value is byte-for-byte the original: detectors see
exactly what a JSON round trip gives them.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from typing import Any

import numpy as np

MAGIC = b"\x02"
"""First byte of an encoded item: zlib streams (the earlier format) start with 0x78."""
MAX_DECIMALS = 30
"""Beyond this many decimals a float is stored as a double (tiny magnitudes; not worth the digits)."""
LIST_DECIMALS = 6
"""A number list's common scale covers values with at most this many decimals; others are stored inline."""
EXACT_INT = 2.0**53
"""Scaled integers below this are exact doubles, so ``n / 10**d`` (IEEE division, correctly
rounded) is the same double as the decimal ``n``e-``d``: the list form decodes by one division."""
SCALES = 10.0 ** np.arange(LIST_DECIMALS + 1)
SHORT_LIST = 16
"""Shorter lists of floats are written item by item: numpy's per-call cost outweighs what deltas save."""

_NULL, _TRUE, _FALSE, _INT, _DEC, _DOUBLE, _STR, _LIST, _DICT, _INTS, _NUMS, _TABLE = range(12)


def _zigzag(n: int) -> int:
    return n * 2 if n >= 0 else -n * 2 - 1


def _unzigzag(n: int) -> int:
    return n // 2 if n % 2 == 0 else -(n + 1) // 2


def _uvarint(out: bytearray, n: int) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _varint(out: bytearray, n: int) -> None:
    _uvarint(out, _zigzag(n))


def _decimal(x: float) -> tuple[int, int] | None:
    """``(n, d)`` with ``x == n / 10**d`` exactly as written by ``repr`` (the shortest round-trip
    text), so ``float(f"{n}e-{d}")`` is ``x`` again; None for -0.0, inf, nan and tiny magnitudes."""
    if not math.isfinite(x) or (x == 0.0 and math.copysign(1.0, x) < 0):
        return None
    mantissa, _, exponent = repr(x).partition("e")
    whole, _, fraction = mantissa.partition(".")
    d = len(fraction) - int(exponent or 0)
    n = int(whole + fraction)
    if d < 0:
        n, d = n * 10**-d, 0
    return (n, d) if d <= MAX_DECIMALS else None


def _scaled_value(n: int, d: int) -> float:
    """The float a scaled integer stands for: parsed from its decimal text, so it is correctly rounded."""
    return float(f"{n}e-{d}")


def _write(out: bytearray, value: Any) -> None:
    if value is None:
        out.append(_NULL)
    elif value is True:
        out.append(_TRUE)
    elif value is False:
        out.append(_FALSE)
    elif isinstance(value, int):
        out.append(_INT)
        _varint(out, value)
    elif isinstance(value, float):
        scaled = _decimal(value)
        if scaled is None:
            out.append(_DOUBLE)
            out += struct.pack("<d", value)
        else:
            out += bytes((_DEC, scaled[1]))
            _varint(out, scaled[0])
    elif isinstance(value, str):
        raw = value.encode()
        out.append(_STR)
        _uvarint(out, len(raw))
        out += raw
    elif isinstance(value, list):
        _write_list(out, value)
    elif isinstance(value, dict):
        out.append(_DICT)
        _uvarint(out, len(value))
        for key, item in value.items():
            _write(out, str(key))
            _write(out, item)
    else:
        raise TypeError(f"not a JSON value: {type(value).__name__}")


def _floaty(values: list[Any]) -> bool:
    return bool(values) and all(v is None or type(v) is float for v in values)


def _write_list(out: bytearray, values: list[Any]) -> None:
    """Ints, or floats and nulls, as deltas; rows of those (recent points) by column; else item by item."""
    if values and all(type(v) is int for v in values):
        out.append(_INTS)
        _uvarint(out, len(values))
        previous = 0
        for v in values:
            _varint(out, v - previous)
            previous = v
    elif len(values) >= SHORT_LIST and _floaty(values):
        out.append(_NUMS)
        _write_numbers(out, values)
    elif (
        values
        and all(type(row) is list and len(row) == len(values[0]) and _floaty(row) for row in values)
        and len(values) >= SHORT_LIST
        and len(values[0]) <= 0xFF
    ):
        out += bytes((_TABLE, len(values[0])))
        _uvarint(out, len(values))
        for column in zip(*values, strict=True):
            _write_numbers(out, list(column))
    else:
        out.append(_LIST)
        _uvarint(out, len(values))
        for v in values:
            _write(out, v)


def _write_numbers(out: bytearray, values: list[float | None]) -> None:
    """Count, a common scale ``d``, the zigzagged deltas of ``round(v * 10**d)`` as fixed-width
    integers (the narrowest of 1, 2, 4, 8 bytes that holds them all), then the items stored inline
    by position: nulls, -0.0, non-finite values and those ``n / 10**d`` does not give back exactly.
    Vectorised, since it runs for every series on every point."""
    arr = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    candidates = np.isfinite(arr) & ~((arr == 0.0) & np.signbit(arr))
    # every scale at once: row d holds round(v * 10**d) and whether dividing it back gives v exactly
    with np.errstate(over="ignore", invalid="ignore"):  # huge values overflow to inf: not exact, kept inline
        all_scaled = np.rint(arr * SCALES[:, None])
        all_exact = candidates & (np.abs(all_scaled) < EXACT_INT) & (all_scaled / SCALES[:, None] == arr)
    complete = np.flatnonzero(all_exact.sum(axis=1) == candidates.sum())
    d = int(complete[0]) if complete.size else LIST_DECIMALS
    scaled, exact = all_scaled[d], all_exact[d]
    regular = np.where(exact, scaled, 0.0).astype(np.int64)[exact]
    deltas = np.diff(regular, prepend=np.int64(0))
    zigzag = np.where(deltas >= 0, deltas * 2, -deltas * 2 - 1).astype(np.uint64)
    top = int(zigzag.max()) if zigzag.size else 0
    width = next(w for w in (1, 2, 4, 8) if top < 256**w)
    _uvarint(out, len(values))
    out += bytes((d, width))
    _uvarint(out, len(zigzag))
    out += (
        zigzag.astype(f"<u{width}").view(np.uint8).reshape(-1, width).T.tobytes()
    )  # byte planes: zlib finds the zeros
    inline = np.flatnonzero(~exact).tolist()
    _uvarint(out, len(inline))
    for i in inline:
        _uvarint(out, i)
        _write(out, values[i])


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        self.pos += 1
        return self.data[self.pos - 1]

    def uvarint(self) -> int:
        n, shift = 0, 0
        while True:
            b = self.byte()
            n |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return n

    def varint(self) -> int:
        return _unzigzag(self.uvarint())

    def numbers(self) -> list[Any]:
        count, d, width = self.uvarint(), self.byte(), self.byte()
        regular = self.uvarint()
        planes = np.frombuffer(self.data, dtype=np.uint8, count=regular * width, offset=self.pos)
        raw = np.ascontiguousarray(planes.reshape(width, regular).T).view(f"<u{width}").reshape(-1).astype(np.int64)
        self.pos += regular * width
        deltas = np.where(raw % 2 == 0, raw // 2, -(raw + 1) // 2)
        scaled = (np.cumsum(deltas).astype(np.float64) / 10.0**d).tolist()
        inline = {self.uvarint(): self.value() for _ in range(self.uvarint())}
        if not inline:
            return scaled
        rest = iter(scaled)
        return [inline[i] if i in inline else next(rest) for i in range(count)]

    def value(self) -> Any:
        tag = self.byte()
        if tag == _NULL:
            return None
        if tag in (_TRUE, _FALSE):
            return tag == _TRUE
        if tag == _INT:
            return self.varint()
        if tag == _DEC:
            d = self.byte()
            return _scaled_value(self.varint(), d)
        if tag == _DOUBLE:
            self.pos += 8
            return struct.unpack("<d", self.data[self.pos - 8 : self.pos])[0]
        if tag == _STR:
            n = self.uvarint()
            self.pos += n
            return self.data[self.pos - n : self.pos].decode()
        if tag == _LIST:
            return [self.value() for _ in range(self.uvarint())]
        if tag == _DICT:
            return {self.value(): self.value() for _ in range(self.uvarint())}
        if tag == _INTS:
            values, previous = [], 0
            for _ in range(self.uvarint()):
                previous += self.varint()
                values.append(previous)
            return values
        if tag == _NUMS:
            return self.numbers()
        if tag == _TABLE:
            width = self.byte()
            rows = self.uvarint()
            columns = [self.numbers() for _ in range(width)]
            return [[column[i] for column in columns] for i in range(rows)]
        raise ValueError(f"corrupt state: tag {tag} at byte {self.pos - 1}")


def encode(text: str) -> bytes:
    """JSON text -> ``MAGIC`` + zlib of the binary form (keys and structure still repeat: zlib takes those)."""
    out = bytearray()
    _write(out, json.loads(text))
    return MAGIC + zlib.compress(bytes(out), 9)


def decode(data: bytes) -> str:
    """The compact JSON text (``separators=(",", ":")``) of what `encode` was given."""
    if data[:1] != MAGIC:
        raise ValueError("not an encoded state (no format byte)")
    return json.dumps(_Reader(zlib.decompress(data[1:])).value(), separators=(",", ":"))
