"""Name -> component registries (encoders, signals, decoders) with typed entries and plugins.

A registry knows the modules that define its built-in components and the
entry-point group through which other packages add theirs; it imports them on
first use (:meth:`Registry.get`, :meth:`Registry.names`, iteration), so that no
module of csbench imports a component module for its registration side effect.

A package of yours registers a decoder (or an encoder) by naming a module in
its ``pyproject.toml``::

    [project.entry-points."csbench.decoders"]
    my_decoder = "my_package.my_decoder"

and calling ``csbench.DECODERS.register(...)`` in that module (see
``docs/architecture.md``, "Plugins").
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import threading
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
    checks : dict
        Parameter -> ``check(name, value)`` returning the normalised value (run by
        :meth:`check_params`).
    problem_check : callable or None
        ``problem_check(params, n, k)``: rules that need the number of features ``n``
        and the sparsity ``k`` (None when not given), or link parameters (run by
        :meth:`check_problem`).
    kind : str
        ``"decoder"``, ``"encoder"`` or ``"signal"``.
    """

    name: str
    func: Callable
    summary: str
    defaults: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)
    problem_check: Callable | None = None
    kind: str = "component"

    def check_params(self, params):
        """Return ``params`` merged with the defaults, each value checked.

        Raises ``TypeError`` for keyword names this component does not accept,
        and whatever the component's declared ``checks`` raise for bad values.
        Rules that need the problem's size, or that link parameters, are
        declared apart: see :meth:`check_problem`.
        """
        for key in params:
            if key not in self.defaults:
                raise TypeError(
                    f"{self.kind} {self.name!r} got an unexpected parameter {key!r}; "
                    f"allowed: {sorted(self.defaults) or 'none'}.{suggest(key, self.defaults)}"
                )
        out = {**self.defaults, **params}
        for key, check in self.checks.items():
            out[key] = check(key, out[key])
        return out

    def check_problem(self, params, n, k=None):
        """Check the rules of checked ``params`` that need the problem; return ``params`` (normalised).

        :func:`csbench.decode` runs it after :meth:`check_params`; studies run
        it before their first trial, so nothing is decoded to find a bad value.
        """
        return params if self.problem_check is None else self.problem_check(params, n, k)


class Registry:
    """Maps names to entries of one class; unknown names get a "did you mean".

    Parameters
    ----------
    kind : str
        What the registry holds (used in messages).
    entry_class : type
        The :class:`Entry` subclass of its entries (its fields are the metadata a
        component may declare; any other keyword of :meth:`register` is a TypeError).
    modules : sequence of str
        Built-in modules defining components, imported on first use.
    group : str, optional
        Entry-point group whose modules are imported on first use (plugins).
    """

    def __init__(self, kind, entry_class=Entry, modules=(), group=None):
        self.kind = kind
        self.entry_class = entry_class
        self._modules = tuple(modules)
        self._group = group
        self._entries: dict[str, Entry] = {}
        self._loaded = False
        self._lock = threading.RLock()
        self._fields = {f.name for f in dataclasses.fields(entry_class)} - {"name", "func", "summary", "defaults",
                                                                            "kind"}

    # -- registration -----------------------------------------------------
    def register(self, name, summary, **fields):
        """Decorator registering ``func`` under ``name`` with typed ``fields`` of :attr:`entry_class`.

        The accepted keyword parameters and defaults are read from the keyword-only
        arguments of ``func``'s signature.
        """
        unknown = sorted(set(fields) - self._fields)
        if unknown:
            raise TypeError(f"{self.kind} {name!r}: unknown registry fields {unknown}; "
                            f"allowed: {sorted(self._fields)}.")

        def wrap(func):
            sig = inspect.signature(func)
            defaults = {
                p.name: p.default
                for p in sig.parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY
            }
            self._entries[name] = self.entry_class(name=name, func=func, summary=summary, defaults=defaults,
                                                   kind=self.kind, **fields)
            return func

        return wrap

    def update(self, name, **fields):
        """Set typed fields of the registered entry ``name`` (e.g. a family attaching a path defined later)."""
        entry = self._entries[name]
        self._entries[name] = dataclasses.replace(entry, **fields)

    # -- loading ----------------------------------------------------------
    def _load(self):
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            self._loaded = True  # set first: the modules below call register(), never _load()
            for module in self._modules:
                importlib.import_module(module)
            if self._group is not None:
                for ep in plugin_entry_points(self._group):
                    ep.load()

    # -- look-up ----------------------------------------------------------
    def get(self, name) -> Entry:
        if not isinstance(name, str):
            raise TypeError(f"{self.kind} name must be a string, got {name!r}.")
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(
                f"unknown {self.kind} {name!r}; allowed: {sorted(self._entries)}."
                f"{suggest(name, self._entries)}"
            ) from None

    def names(self):
        self._load()
        return sorted(self._entries)

    def __contains__(self, name):
        self._load()
        return name in self._entries

    def __iter__(self):
        return iter(self._entries[n] for n in self.names())


def plugin_entry_points(group):
    """The installed entry points of ``group`` (``csbench.decoders``, ``csbench.encoders``), by name."""
    from importlib.metadata import entry_points

    return sorted(entry_points(group=group), key=lambda ep: ep.name)
