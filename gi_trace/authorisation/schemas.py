"""What the public register API takes and answers (for e-commerce platforms and other programs)."""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from gi_trace.schemas import Public, Query

_DATE = {"format": "date"}


class RegisterQuery(Query):
    product: str = Field(max_length=64, description="Product slug, e.g. zhongning-goji")
    county: Optional[str] = Field(None, max_length=12, description="6-digit county code")
    # Checked by the view (the message names the field), like the other date parameters.
    on: Optional[str] = Field(None, json_schema_extra=_DATE, description="The date (default today, Asia/Shanghai)")
    offset: int = Field(0, ge=0, le=10**9)
    limit: int = Field(100, ge=1, le=500)


class CheckQuery(Query):
    uscc: str = Field(max_length=40, description="Unified social credit code (18 characters)")
    product: str = Field(max_length=64, description="Product slug, e.g. zhongning-goji")
    on: Optional[str] = Field(None, json_schema_extra=_DATE, description="The date (default today, Asia/Shanghai)")


class Scope(Public):
    products: list[str]
    trademarks: list[str] = Field(description="The user's own trademarks shown beside the GI mark")


class RegisterEntry(Public):
    """One authorised user (a household by kind and registry number, never by name)."""

    name: str
    code: str
    gln: Optional[str] = Field(None, description="GS1 Global Location Number (13 digits), if recorded")
    kind: str
    county_code: str
    town_code: str
    status: str
    since: Optional[str] = Field(json_schema_extra=_DATE)
    until: Optional[str] = Field(json_schema_extra=_DATE)
    notice_no: str = Field(description="The public notice (公告) of the approval")
    reference_no: str
    scope: Scope


class AuthorisedUsers(Public):
    """A page of the users authorised to use a GI special mark on a date."""

    product: str
    on: str = Field(json_schema_extra=_DATE)
    county: Optional[str]
    total: int
    offset: int
    limit: int
    items: list[RegisterEntry]


class RegisterCheck(Public):
    """Whether a business may use the GI mark of a product on a date."""

    authorised: bool
    status: str = Field(description="authorised, pending, rejected, suspended, revoked, expired, none, or "
                                    "not_registered")
    since: Optional[str] = Field(json_schema_extra=_DATE)
    until: Optional[str] = Field(json_schema_extra=_DATE)
    uscc: str
    gln: Optional[str] = Field(None, description="GS1 Global Location Number (13 digits), if recorded")
    product: str
    on: str = Field(json_schema_extra=_DATE)
