"""Prometheus remote write 1.0 messages: ``prometheus.WriteRequest``, ``TimeSeries``, ``Label``, ``Sample``.

Built at import time from a ``FileDescriptorProto`` (field numbers from the remote write 1.0
spec's ``prompb`` schema) instead of a protoc-generated ``_pb2`` module: generated code is tied
to the protoc that made it and must match the installed protobuf runtime; this is not. Only the
fields a receiver reads are declared (metadata, exemplars, native histograms are skipped on
parsing as unknown fields). A pool of its own keeps it apart from any other ``prometheus`` package.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
PACKAGE = "prometheus"


def _message(name: str, *fields: tuple[str, int, int, str]) -> descriptor_pb2.DescriptorProto:
    """A message of ``(name, number, type, message type or "")`` fields; a message-typed field is repeated."""
    out = descriptor_pb2.DescriptorProto(name=name)
    for field_name, number, kind, type_name in fields:
        out.field.add(
            name=field_name,
            number=number,
            type=kind,
            type_name=f".{PACKAGE}.{type_name}" if type_name else None,
            label=_F.LABEL_REPEATED if type_name else _F.LABEL_OPTIONAL,
        )
    return out


def _file() -> descriptor_pb2.FileDescriptorProto:
    return descriptor_pb2.FileDescriptorProto(
        name="iops/prompb/remote_write_1_0.proto",
        package=PACKAGE,
        syntax="proto3",
        message_type=[
            _message("WriteRequest", ("timeseries", 1, _F.TYPE_MESSAGE, "TimeSeries")),
            _message(
                "TimeSeries",
                ("labels", 1, _F.TYPE_MESSAGE, "Label"),
                ("samples", 2, _F.TYPE_MESSAGE, "Sample"),
            ),
            _message("Label", ("name", 1, _F.TYPE_STRING, ""), ("value", 2, _F.TYPE_STRING, "")),
            _message("Sample", ("value", 1, _F.TYPE_DOUBLE, ""), ("timestamp", 2, _F.TYPE_INT64, "")),
        ],
    )


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file())
WriteRequest = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{PACKAGE}.WriteRequest"))
TimeSeries = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{PACKAGE}.TimeSeries"))
Label = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{PACKAGE}.Label"))
Sample = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{PACKAGE}.Sample"))
