"""What every settings section builds on: the frozen model refusing unknown keys, and the error
for a value that is wrong only together with another (used by ``config.sections``,
``config.service_sections`` and ``config.settings``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError


def _cross(field: str, detail: str) -> PydanticCustomError:
    """An error about ``field`` (dotted, relative to the model raising it) that involves others."""
    return PydanticCustomError("cross_field", "{detail}", {"field": field, "detail": detail})


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
