"""Protobuf messages of the standard ingest formats that no installed package ships."""
