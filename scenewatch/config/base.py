"""The base every config section derives from: unknown keys are errors, fields document themselves."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section. Each field carries a ``description`` so the config documents itself."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
