"""pydantic's JSON Schema of the models as OpenAPI 3.0 schema objects (`iops.models.openapi` uses this)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

REF_TEMPLATE = "#/components/schemas/{model}"


class OpenAPI30(GenerateJsonSchema):
    """JSON Schema (2020-12) as OpenAPI 3.0 wants it: ``X | None`` is ``nullable``; a field that
    defaults to None may be absent but is never null (the API leaves such fields out); no field titles."""

    def nullable_schema(self, schema: Any) -> dict[str, Any]:
        inner = self.generate_inner(schema["schema"])
        return {"allOf": [inner], "nullable": True} if "$ref" in inner else {**inner, "nullable": True}

    def default_schema(self, schema: Any) -> dict[str, Any]:
        out = super().default_schema(schema)
        if "default" in schema and schema["default"] is None:
            out.pop("default", None)
            out.pop("nullable", None)
            if list(out) == ["allOf"] and len(out["allOf"]) == 1:
                out = out["allOf"][0]
        return out

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def union_schema(self, schema: Any) -> dict[str, Any]:
        """A request's unions (a timestamp's string or number, the body's three shapes) are disjoint:
        ``oneOf``, as the API has always documented them. Response unions (a result or an error) may
        overlap and stay ``anyOf``."""
        out = super().union_schema(schema)
        if self.mode == "validation" and "anyOf" in out:
            out["oneOf"] = out.pop("anyOf")
        return out


def component_schemas(
    wanted: dict[Hashable, tuple[Any, JsonSchemaMode]],
) -> tuple[dict[Hashable, dict[str, Any]], dict[str, dict[str, Any]]]:
    """For each key's (type, mode): a schema referring to ``#/components/schemas``; and those schemas."""
    refs, defs = TypeAdapter.json_schemas(
        [(key, mode, TypeAdapter(tp)) for key, (tp, mode) in wanted.items()],
        ref_template=REF_TEMPLATE,
        schema_generator=OpenAPI30,
    )
    return {key: schema for (key, _mode), schema in refs.items()}, defs.get("$defs", {})


def parameters(model: type[BaseModel], where: str) -> list[dict[str, Any]]:
    """One OpenAPI parameter per field of ``model`` (named by alias), ``where`` = "query" or "path".

    A query parameter's empty value means "not given" (``?limit=`` is the default limit) unless its
    field says ``allowEmptyValue: false``."""
    schema = model.model_json_schema(schema_generator=OpenAPI30, ref_template=REF_TEMPLATE)
    out = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        param: dict[str, Any] = {"name": name, "in": where, "required": name in schema.get("required", ())}
        if where == "query":
            param["allowEmptyValue"] = prop.pop("allowEmptyValue", True)
        description = prop.pop("description", None)
        param["schema"] = prop
        if description:
            param["description"] = description
        out.append(param)
    return out
