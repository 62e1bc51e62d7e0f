"""Run specifications: which decoder, with which parameters."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import seeding
from .decoders import DECODERS


@dataclass(frozen=True)
class DecoderSpec:
    """A decoder name, its parameters and a display label (defaults to the name)."""

    name: str
    params: dict = field(default_factory=dict)
    label: str | None = None

    def validate(self):
        """Check the name and parameter names; return parameters merged with defaults."""
        return DECODERS.get(self.name).check_params(dict(self.params))

    @property
    def display(self):
        return self.label or self.name

    def key(self):
        """Canonical text of (name, params with defaults filled in)."""
        return seeding.canonical({"name": self.name, "params": self.validate()})
