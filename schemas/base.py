"""Base class for every record Touchpoint produces (frozen, strict about unknown fields), and shared field types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

E164 = Annotated[str, Field(pattern=r"^\+[1-9]\d{1,14}$")]
"""A phone number in E.164 form, as ingest normalizes it (`+` and up to 15 digits)."""


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)
