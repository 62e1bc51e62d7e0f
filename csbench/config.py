"""Run specifications: decoders with parameters, and sweeps (TOML or Python).

A :class:`Sweep` is a grid over encoder, signal, n, k, noise and m, run for a
list of decoders (:class:`DecoderSpec`). It is validated when built: every
axis value, every (cell, m) combination and every decoder name/parameter name,
so an invalid sweep fails before any work with the key and the allowed values.
:func:`load_sweep` reads one from TOML; errors then also name the file.
See ``docs/harness.md`` for the reference of every key.
"""
from __future__ import annotations

import itertools
import json
import os
import tomllib
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from . import seeding
from ._validate import check_bool, check_choice, check_float, check_int, suggest
from .decoders import DECODERS
from .encoders import ENCODERS, check_encoder
from .problems import parse_bytes
from .signals import SIGNALS, check_signal


class ConfigError(ValueError):
    """An invalid sweep configuration; the message names the file, the key and the allowed values."""

    def __init__(self, message, *, source=None, key=None):
        self.source, self.key, self.reason = source, key, message
        where = f"{source}: " if source else ""
        what = f"key {key!r}: " if key else ""
        super().__init__(f"{where}{what}{message}")


@dataclass(frozen=True)
class DecoderSpec:
    """A decoder name, its parameters and a display label (defaults to the name)."""

    name: str
    params: dict = field(default_factory=dict)
    label: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "_checked", DECODERS.get(self.name).check_params(dict(self.params)))

    def validate(self):
        """The parameters merged with defaults, normalised: checked once, when the spec is made (the name,
        parameter names and values, by the decoder's declared checks)."""
        return dict(self._checked)

    @property
    def display(self):
        return self.label or self.name

    def key(self):
        """Canonical text of (name, params with defaults filled in, as given: not normalised, so keys stay stable)."""
        return seeding.canonical({"name": self.name, "params": {**DECODERS.get(self.name).defaults, **self.params}})


@dataclass(frozen=True)
class ComponentSpec:
    """An encoder or signal model: a registered ``name`` and its ``params``."""

    name: str
    params: dict = field(default_factory=dict)


#: m spacings accepted by :class:`MRange`.
SPACINGS = ["geometric", "linear"]


@dataclass(frozen=True)
class MRange:
    """A range of m values: ``num`` points from ``start`` to ``stop`` (inclusive), or every ``step``.

    ``spacing="geometric"``: ``round(geomspace(start, stop, num))``;
    ``"linear"``: ``round(linspace(start, stop, num))``, or
    ``start, start + step, ... <= stop`` when ``step`` is given. Duplicates
    after rounding are dropped.
    """

    start: int
    stop: int
    num: int | None = None
    step: int | None = None
    spacing: str = "geometric"

    def __post_init__(self):
        check_int("start", self.start, low=1)
        check_int("stop", self.stop, low=self.start)
        check_choice("spacing", self.spacing, SPACINGS)
        if (self.num is None) == (self.step is None):
            raise ValueError("give exactly one of num (number of points) or step (linear increment).")
        if self.num is not None:
            check_int("num", self.num, low=1)
        else:
            check_int("step", self.step, low=1)
            if self.spacing != "linear":
                raise ValueError("step=... needs spacing='linear'; allowed: num=... with either spacing.")

    def values(self):
        """The m values, increasing integers."""
        if self.step is not None:
            return list(range(self.start, self.stop + 1, self.step))
        space = np.geomspace if self.spacing == "geometric" else np.linspace
        return [int(v) for v in np.unique(np.round(space(self.start, self.stop, self.num)).astype(int))]


#: Top-level keys of a sweep (TOML and :meth:`Sweep.to_dict`).
SWEEP_KEYS = ["name", "encoder", "signal", "n", "k", "m", "noise", "decoders",
              "trials", "seed", "criterion", "tol", "block", "auto"]
#: Keys of one ``[[decoders]]`` table, of a component table, of an m range, of ``[auto]``.
DECODER_KEYS = ["name", "label", "params"]
COMPONENT_KEYS = ["name", "params"]
MRANGE_KEYS = ["start", "stop", "num", "step", "spacing"]
AUTO_KEYS = ["q", "conf", "m_max", "m_start", "resolution", "check_monotone", "memory_budget"]
#: Boolean per-trial criteria that can define "recovered".
SWEEP_CRITERIA = ["exact", "support"]


def _check_keys(key, table, allowed):
    if not isinstance(table, dict):
        raise ConfigError(f"expected a table with keys {allowed}, got {table!r}.", key=key)
    for k in table:
        if k not in allowed:
            raise ConfigError(f"unknown key {k!r}; allowed: {allowed}.{suggest(k, allowed)}", key=key)


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _axis(key, values, check):
    """Validate each value of a grid axis with ``check``; reject empty axes and duplicates."""
    values = _as_list(values)
    if not values:
        raise ConfigError("must hold at least one value.", key=key)
    out = []
    for i, v in enumerate(values):
        try:
            out.append(check(v))
        except (TypeError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, ConfigError) else str(exc)
            raise ConfigError(reason, key=f"{key}[{i}]" if len(values) > 1 else key) from None
    seen = [seeding.canonical(_plain(v)) for v in out]
    if len(set(seen)) != len(seen):
        raise ConfigError(f"duplicate values in {values!r}; each grid value must appear once.", key=key)
    return tuple(out)


def _component(registry, key):
    def check(v):
        if isinstance(v, ComponentSpec):
            v = {"name": v.name, "params": v.params}
        if isinstance(v, str):
            v = {"name": v}
        _check_keys(key, v, COMPONENT_KEYS)
        if "name" not in v:
            raise ConfigError(f"missing 'name'; allowed: {registry.names()}.", key=key)
        entry = registry.get(v["name"])
        params = dict(v.get("params", {}))
        entry.check_params(params)
        return ComponentSpec(v["name"], params)

    return check


def _decoder(v):
    if isinstance(v, DecoderSpec):
        v = {"name": v.name, "params": v.params, "label": v.label}
    if isinstance(v, str):
        v = {"name": v}
    _check_keys("decoders", v, DECODER_KEYS)
    if "name" not in v:
        raise ValueError(f"missing 'name'; allowed: {DECODERS.names()}.")
    if v.get("label") is not None and not isinstance(v["label"], str):
        raise TypeError(f"label must be a string, got {v['label']!r}.")
    if not isinstance(v.get("params", {}), dict):
        raise TypeError(f"params must be a table of parameter = value, got {v['params']!r}.")
    spec = DecoderSpec(v["name"], dict(v.get("params", {})), v.get("label"))
    spec.validate()
    return spec


def _m_spec(m):
    if isinstance(m, str):
        if m != "auto":
            raise ConfigError(f"m={m!r} is not allowed; allowed: a list of integers >= 1, "
                              f"a range table {{start, stop, num|step, spacing}} or 'auto'.", key="m")
        return "auto"
    if isinstance(m, MRange):
        return m
    if isinstance(m, dict):
        _range_table("m", m)
        return MRange(**m)
    values = _axis("m", m, lambda v: check_int("m", v, low=1))
    return tuple(sorted(values))


def _range_table(key, value):
    """Expand an :class:`MRange`-style table ``{start, stop, num|step, spacing}`` into a list of ints."""
    if isinstance(value, dict):
        _check_keys(key, value, MRANGE_KEYS)
        try:
            return MRange(**value).values()
        except (TypeError, ValueError) as exc:
            raise ConfigError(str(exc), key=key) from None
    return value.values() if isinstance(value, MRange) else value


def _plain(v):
    """JSON-able form of a spec value."""
    if isinstance(v, ComponentSpec):
        return {"name": v.name, "params": v.params}
    if isinstance(v, DecoderSpec):
        return {"name": v.name, "params": v.params, "label": v.label}
    if isinstance(v, MRange):
        return {k: getattr(v, k) for k in MRANGE_KEYS if getattr(v, k) is not None}
    return v


@dataclass(frozen=True)
class Sweep:
    """A grid of problems and the decoders to run on it.

    Every grid axis accepts a single value or a list; encoders and signals are
    names, ``{"name": ..., "params": {...}}`` tables or :class:`ComponentSpec`;
    decoders are names, tables ``{name, label, params}`` or :class:`DecoderSpec`.
    The sweep is normalised and validated on construction (raises
    :class:`ConfigError`). Cells are the product encoder x signal x n x k x
    noise; each cell is run at every m, for every decoder, with ``trials``
    trials split into tasks of ``block`` trials.

    Parameters
    ----------
    decoders : list
        At least one decoder; display labels must be unique.
    encoder, signal : name, table, or list of them
        Defaults ``"gaussian"`` and ``"binary"``.
    n, k : int, list of int, or range table
        ``n >= 1``, ``0 <= k <= n``; a table ``{start, stop, num|step, spacing}``
        (see :class:`MRange`) is expanded to its values.
    m : list of int, :class:`MRange` or table, or ``"auto"``
        ``"auto"`` searches the minimal m with :mod:`csbench.studies.minimal_m`.
    noise : float or list of float
        Noise standard deviation (>= 0).
    trials : int
        Trials per (cell, m, decoder), >= 1.
    seed : int
        Root seed (>= 0); see :mod:`csbench.seeding`.
    criterion : {"exact", "support"}
        Criterion used in summaries (every criterion is stored).
    tol : float
        Tolerance of :func:`csbench.metrics.score` (>= 0).
    block : int
        Trials per task (>= 1); results do not depend on it.
    auto : dict
        Options of the minimal-m search (:func:`csbench.studies.minimal_m.minimal_m`): ``q`` and
        ``conf`` in (0, 1), ``m_max``, ``m_start``, ``resolution`` >= 1, ``check_monotone``,
        ``memory_budget`` (bytes or e.g. ``"4GiB"``: above it a block is decoded matrix-free; recorded).
    name : str
        A label for the run.
    """

    decoders: tuple = ()
    encoder: tuple = ("gaussian",)
    signal: tuple = ("binary",)
    n: tuple = (512,)
    k: tuple = (4,)
    m: object = (64,)
    noise: tuple = (0.0,)
    trials: int = 100
    seed: int = 0
    criterion: str = "exact"
    tol: float = 1e-3
    block: int = 50
    auto: dict = field(default_factory=dict)
    name: str = "sweep"

    def __post_init__(self):
        s = object.__setattr__
        if not isinstance(self.name, str):
            raise ConfigError(f"must be a string, got {self.name!r}.", key="name")
        s(self, "encoder", _axis("encoder", self.encoder, _component(ENCODERS, "encoder")))
        s(self, "signal", _axis("signal", self.signal, _component(SIGNALS, "signal")))
        s(self, "n", _axis("n", _range_table("n", self.n), lambda v: check_int("n", v, low=1)))
        s(self, "k", _axis("k", _range_table("k", self.k), lambda v: check_int("k", v, low=0)))
        s(self, "noise", _axis("noise", self.noise, lambda v: check_float("noise", v, low=0.0)))
        s(self, "m", _m_spec(self.m))
        s(self, "decoders", _axis("decoders", self.decoders, _decoder))
        labels = [d.display for d in self.decoders]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"decoder labels {labels} must be unique; set label = '...' to tell them apart.",
                              key="decoders")
        for key, low in (("trials", 1), ("seed", 0), ("block", 1)):
            s(self, key, _scalar(key, lambda v, key=key, low=low: check_int(key, v, low=low), getattr(self, key)))
        s(self, "tol", _scalar("tol", lambda v: check_float("tol", v, low=0.0), self.tol))
        s(self, "criterion", _scalar("criterion", lambda v: check_choice("criterion", v, SWEEP_CRITERIA),
                                     self.criterion))
        s(self, "auto", _auto(self.auto))
        for e, s, n, k, noise in self._grid():  # checked before any Cell exists (Cell() raises unattributed)
            _check_cell(SimpleNamespace(encoder=e.name, signal=s.name, n=n, k=k, encoder_params=dict(e.params),
                                        signal_params=dict(s.params)), self.m_values())

    def _grid(self):
        return itertools.product(self.encoder, self.signal, self.n, self.k, self.noise)

    def cells(self):
        """The :class:`~csbench.problems.Cell` objects of the grid, in grid order."""
        from .problems import Cell

        return [Cell(e.name, s.name, n, k, noise, dict(e.params), dict(s.params))
                for e, s, n, k, noise in self._grid()]

    def m_values(self, cell=None):
        """The m values (the same for every cell); ``[]`` for ``m = "auto"``."""
        if self.m == "auto":
            return []
        return self.m.values() if isinstance(self.m, MRange) else list(self.m)

    def blocks(self):
        """``(first_trial, trials)`` of each task of one (cell, m, decoder)."""
        return [(s, min(self.block, self.trials - s)) for s in range(0, self.trials, self.block)]

    def to_dict(self):
        """JSON-able description (the keys of :data:`SWEEP_KEYS`); ``Sweep.from_dict`` inverts it."""
        d = {key: getattr(self, key) for key in SWEEP_KEYS}
        for key in ("encoder", "signal", "n", "k", "noise", "decoders"):
            d[key] = [_plain(v) for v in d[key]]
        d["m"] = _plain(self.m) if not isinstance(self.m, tuple) else list(self.m)
        return d

    def key(self):
        """Canonical JSON text of :meth:`to_dict` (identifies a run's configuration)."""
        return seeding.canonical(self.to_dict())

    @classmethod
    def from_dict(cls, d, source=None):
        """Build a sweep from a dict (parsed TOML); errors name ``source``, the key and the allowed values."""
        try:
            _check_keys(None, d, SWEEP_KEYS)
            if "decoders" not in d:
                raise ConfigError(f"missing; add at least one [[decoders]] table with name = one of "
                                  f"{DECODERS.names()}.", key="decoders")
            return cls(**d)
        except ConfigError as exc:
            raise ConfigError(exc.reason, source=source, key=exc.key) from None


def _scalar(key, check, value):
    try:
        return check(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc), key=key) from None


def _auto(auto):
    auto = dict(auto or {})
    _check_keys("auto", auto, AUTO_KEYS)
    checks = {
        "q": lambda v: check_float("q", v, low=0.0, high=1.0, low_open=True, high_open=True),
        "conf": lambda v: check_float("conf", v, low=0.0, high=1.0, low_open=True, high_open=True),
        "m_max": lambda v: check_int("m_max", v, low=1),
        "m_start": lambda v: check_int("m_start", v, low=1),
        "resolution": lambda v: check_int("resolution", v, low=1),
        "check_monotone": lambda v: check_bool("check_monotone", v),
        "memory_budget": lambda v: parse_bytes("memory_budget", v),
    }
    for key in auto:
        auto[key] = _scalar(f"auto.{key}", checks[key], auto[key])
    return auto


def _check_cell(cell, ms):
    """Cross-checks of one cell at every m, each error attributed to its key."""
    where = f"(in cell encoder={cell.encoder!r}, signal={cell.signal!r}, n={cell.n}, k={cell.k}"
    checks = [("k", lambda: check_int("k", cell.k, low=0, high=cell.n), ")"),
              ("signal", lambda: check_signal(cell.signal, cell.n, cell.k, dict(cell.signal_params)), ")")]
    checks += [("encoder", lambda m=m: check_encoder(cell.encoder, m, cell.n, dict(cell.encoder_params)),
                f", m={m})") for m in ms]
    for key, check, end in checks:
        try:
            check()
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{exc} {where}{end}", key=key) from None


def load_sweep(path):
    """Read a :class:`Sweep` from a TOML file.

    Raises :class:`ConfigError` (a ``ValueError``) naming the file, the key and
    the allowed values for malformed TOML, unknown keys, bad ranges, unknown
    encoders/signals/decoders (with a "did you mean") or invalid cells.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError("no such file.", source=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"malformed TOML: {exc}.", source=path) from None
    return Sweep.from_dict(data, source=path)


def sweep_to_json(sweep) -> str:
    """Pretty JSON of :meth:`Sweep.to_dict` (stored in run directories)."""
    return json.dumps(sweep.to_dict(), indent=2, sort_keys=True, default=seeding._jsonable)

