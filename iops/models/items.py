"""Plain Python values to and from DynamoDB's low-level attribute values, for every table's items.

Floats are stored as the exact decimal of their ``repr`` (DynamoDB refuses floats), ``None`` is left
out (never stored), and numbers read back as ints when whole (within 2**53) or floats, so that an
item round-trips to the record it was made from.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_ser = TypeSerializer()
_de = TypeDeserializer()


def _dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_dynamo(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def attribute(value: Any) -> dict:
    """One value as an attribute value (for expression values)."""
    return _ser.serialize(_dynamo(value))


def to_item(record: dict[str, Any]) -> dict[str, dict]:
    """A plain record as an item (None left out: never stored)."""
    return {k: attribute(v) for k, v in record.items() if v is not None}


def from_item(item: dict[str, dict]) -> dict[str, Any]:
    """An item as the plain record it was made from."""
    return {k: _plain(_de.deserialize(v)) for k, v in item.items()}
