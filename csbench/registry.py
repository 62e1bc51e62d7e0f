"""A small name -> component registry used for encoders, signals and decoders."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

from ._validate import suggest


@dataclass(frozen=True)
class Entry:
    """One registered component.

    Attributes
    ----------
    name : str
        Registry key.
    func : callable
        The implementation.
    summary : str
        One-line description (shown by ``csbench list``).
    defaults : dict
        Keyword parameters the component accepts, with their defaults.
    info : dict
        Free-form extra facts (e.g. ``{"nested": "sqrt"}`` for encoders).
    """

    name: str
    func: Callable
    summary: str
    defaults: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def check_params(self, params):
        """Return ``params`` merged with the defaults, each value checked.

        Raises ``TypeError`` for keyword names this component does not accept,
        and whatever the component's declared ``checks`` raise for bad values
        (``info["checks"]``: parameter -> ``check(name, value)`` returning the
        normalised value). Rules that need the problem's size, or that link
        parameters, are declared apart: see :meth:`check_problem`.
        """
        for key in params:
            if key not in self.defaults:
                raise TypeError(
                    f"{self.kind} {self.name!r} got an unexpected parameter {key!r}; "
                    f"allowed: {sorted(self.defaults) or 'none'}.{suggest(key, self.defaults)}"
                )
        out = {**self.defaults, **params}
        for key, check in self.info.get("checks", {}).items():
            out[key] = check(key, out[key])
        return out

    def check_problem(self, params, n, k=None):
        """Check the rules of checked ``params`` that need the problem; return ``params`` (normalised).

        Runs the component's declared ``info["check_problem"](params, n, k)``
        (rules that need the number of features ``n`` and the sparsity ``k``,
        None when not given, or that link parameters to each other), if any.
        :func:`csbench.decode` runs it after :meth:`check_params`; searches run
        it before their first trial, so nothing is decoded to find a bad value.
        """
        hook = self.info.get("check_problem")
        return params if hook is None else hook(params, n, k)

    @property
    def kind(self):
        return self.info.get("kind", "component")


class Registry:
    """Maps names to :class:`Entry` objects; unknown names get a "did you mean"."""

    def __init__(self, kind):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name, summary, **info):
        """Decorator registering ``func`` under ``name``.

        The accepted keyword parameters and defaults are read from the keyword-only
        arguments of ``func``'s signature.
        """

        def wrap(func):
            sig = inspect.signature(func)
            defaults = {
                p.name: p.default
                for p in sig.parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY
            }
            self._entries[name] = Entry(name, func, summary, defaults, {"kind": self.kind, **info})
            return func

        return wrap

    def get(self, name) -> Entry:
        if not isinstance(name, str):
            raise TypeError(f"{self.kind} name must be a string, got {name!r}.")
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(
                f"unknown {self.kind} {name!r}; allowed: {sorted(self._entries)}."
                f"{suggest(name, self._entries)}"
            ) from None

    def names(self):
        return sorted(self._entries)

    def __contains__(self, name):
        return name in self._entries

    def __iter__(self):
        return iter(self._entries[n] for n in self.names())
