"""The base of every configuration document model: strict about names, lenient about notes.

A typo in a field name must be an error that names it (a misspelt ``fallback_team`` silently
ignored would route every ticket to the wrong desk), while ``_comment`` keys, which the shipped
defaults use to explain themselves, are notes and are dropped before validation.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _drop_notes(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("_"))}
        return data
