"""DynamoDB tables built from `handlers.definitions` (the local system builds the same ones)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from handlers.definitions import Table


def dynamodb_table(resource_name: str, table: Table, prefix: str, parent: pulumi.Resource) -> aws.dynamodb.Table:
    """On-demand, encrypted, point-in-time recovery, TTL and stream as the definition says."""
    return aws.dynamodb.Table(
        resource_name,
        name=table.physical_name(prefix),
        billing_mode="PAY_PER_REQUEST",
        hash_key=table.hash_key,
        range_key=table.range_key,
        attributes=[{"name": n, "type": t} for n, t in table.attributes.items()],
        global_secondary_indexes=[
            {"name": ix.name, "hash_key": ix.hash_key, "range_key": ix.range_key, "projection_type": "ALL"}
            for ix in table.indexes
        ]
        or None,
        ttl={"attribute_name": table.ttl_attribute, "enabled": True} if table.ttl_attribute else None,
        stream_enabled=bool(table.stream_view),
        stream_view_type=table.stream_view,
        point_in_time_recovery={"enabled": True},
        server_side_encryption={"enabled": True},
        opts=pulumi.ResourceOptions(parent=parent),
    )
