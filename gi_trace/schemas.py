"""Base classes for the API's request and response models (pydantic), shared by every area.

An area keeps its models in `gi_trace/<area>/schemas.py`; its `api*.py` modules name them in
`@operation(...)` (see `gi_trace/api`), which validates requests with them, serialises responses
through them and generates the OpenAPI document from them. This module sits below every area,
so any area's schemas may use it; it knows nothing about Flask.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    """A JSON request body: values must have the JSON type declared ("5" is not 5, true is not 1).

    Unknown keys are ignored; numbers must be finite. Domain rules (stages, dates, kilograms) stay
    in the services, which give the precise message.
    """

    model_config = ConfigDict(strict=True, allow_inf_nan=False)


class Query(BaseModel):
    """Query-string parameters: text converted to the declared types ("20" becomes 20)."""

    model_config = ConfigDict(allow_inf_nan=False)


class Public(BaseModel):
    """A response as the API returns it.

    Serialised with the fields that were given: a field with a default is left out unless the
    constructor names it (e.g. a unit's `package_kg`), so optional parts stay optional in the JSON.
    Fields without a default are always present (null when empty).
    """

    def to_json(self) -> dict:
        """The response body."""
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)
