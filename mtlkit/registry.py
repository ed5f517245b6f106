"""A small, reusable pluggy registry: name → class tables filled by ``register(cls)`` callbacks.

Built-ins register by import (a module with ``@hookimpl`` functions); third-party plugins come through an
entry-point group; an environment variable selects them (unset = all, empty = none, ``a,b`` = only those,
matched against entry-point or distribution names). Duplicate names fail loudly, naming both origins, and a
mistyped hook name fails ``check_pending``. mtlkit uses one table for aggregators; dancegen reuses the class
for its music encoders and genre controllers.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata as md
import os
import threading
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pluggy

BUILTIN = "built-in"

T = TypeVar("T")


class UnknownNameError(KeyError):
    """A name no loaded plugin registered (the message lists close matches)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class RegisteredItem(Generic[T]):
    """One registered class with the plugin it came from (``built-in`` or ``distribution version``)."""

    name: str
    cls: type[T]
    origin: str

    @property
    def summary(self) -> str:
        doc = (self.cls.__doc__ or "").strip().splitlines()
        return doc[0] if doc else ""


def _dist_origin(ep: md.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else ep.value


def _selected(ep: md.EntryPoint, wanted: set[str] | None) -> bool:
    if wanted is None:
        return True
    dist = getattr(ep, "dist", None)
    names = {ep.name}
    if dist is not None:
        names |= {dist.name, dist.name.replace("_", "-"), dist.name.replace("-", "_")}
    return bool(names & wanted)


class PluginManagerHolder:
    """One lazily built pluggy manager per project (shared by all tables of that project)."""

    def __init__(self, project: str, specs: type, builtins: str, entry_group: str, env_var: str) -> None:
        self.project, self.specs, self.builtins = project, specs, builtins
        self.entry_group, self.env_var = entry_group, env_var
        self.origins: dict[str, str] = {}
        self.lock = threading.RLock()
        self.generation = 0
        self._pm: pluggy.PluginManager | None = None

    def get(self) -> pluggy.PluginManager:
        with self.lock:
            if self._pm is None:
                pm = pluggy.PluginManager(self.project)
                pm.add_hookspecs(self.specs)
                pm.register(importlib.import_module(self.builtins), name=BUILTIN)
                self._load_entry_points(pm)
                pm.check_pending()
                self._pm = pm
                self.generation += 1
            return self._pm

    def _load_entry_points(self, pm: pluggy.PluginManager) -> None:
        raw = os.environ.get(self.env_var)
        wanted = None if raw is None else {n.strip() for n in raw.split(",") if n.strip()}
        for ep in md.entry_points(group=self.entry_group):
            if not _selected(ep, wanted) or pm.get_plugin(ep.name) is not None:
                continue
            pm.register(ep.load(), name=ep.name)
            self.origins[ep.name] = _dist_origin(ep)

    def register_plugin(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object at run time (tests, notebooks); undone by :meth:`unregister_plugin`."""
        with self.lock:
            pm = self.get()
            pm.register(plugin, name=name)
            try:
                pm.check_pending()
            except Exception:
                pm.unregister(plugin)
                raise
            self.generation += 1

    def unregister_plugin(self, plugin: object) -> None:
        with self.lock:
            self.get().unregister(plugin)
            self.generation += 1

    def origin_of(self, plugin: object) -> str:
        name = self.get().get_name(plugin) or repr(plugin)
        return BUILTIN if name == BUILTIN else self.origins.get(name, name)

    def reload(self) -> None:
        """Forget everything; the next lookup re-reads entry points and the environment variable."""
        with self.lock:
            self._pm = None
            self.origins.clear()
            self.generation += 1


class PluginTable(Generic[T]):
    """The name → class table filled by one hook of a project (e.g. ``mtlkit_register_aggregators``).

    ``register(cls, name=None)`` inside the hook adds ``cls`` under ``name or cls.name`` (lower-cased).
    """

    def __init__(self, holder: PluginManagerHolder, hook: str, base: type[T], kind: str) -> None:
        self.holder, self.hook, self.base, self.kind = holder, hook, base, kind
        self._items: dict[str, RegisteredItem[T]] = {}
        self._generation = -1

    def _table(self) -> dict[str, RegisteredItem[T]]:
        with self.holder.lock:
            pm = self.holder.get()
            if self._generation != self.holder.generation:
                self._items = self._collect(pm)
                self._generation = self.holder.generation
            return self._items

    def _collect(self, pm: pluggy.PluginManager) -> dict[str, RegisteredItem[T]]:
        items: dict[str, RegisteredItem[T]] = {}
        for impl in reversed(getattr(pm.hook, self.hook).get_hookimpls()):
            origin = self.holder.origin_of(impl.plugin)

            def register(cls: type, name: str | None = None, *, _origin: str = origin) -> None:
                if not (isinstance(cls, type) and issubclass(cls, self.base)):
                    raise TypeError(f"{_origin}: register() expects a {self.base.__name__} subclass, got {cls!r}")
                key = (name or getattr(cls, "name", "") or "").strip().lower()
                if not key:
                    raise ValueError(f"{_origin}: {self.kind} {cls.__name__} has no name")
                if key in items:
                    raise ValueError(
                        f"{self.kind} name {key!r} is registered twice: by {items[key].origin} "
                        f"({items[key].cls.__qualname__}) and by {_origin} ({cls.__qualname__})"
                    )
                items[key] = RegisteredItem(key, cls, _origin)

            impl.function(register=register)
        return items

    def get(self, name: str) -> RegisteredItem[T]:
        """The item registered as ``name`` (case-insensitive); unknown names list close matches."""
        table = self._table()
        key = name.strip().lower()
        if key not in table:
            close = difflib.get_close_matches(key, list(table), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownNameError(f"unknown {self.kind} {name!r}{hint} (available: {', '.join(sorted(table))})")
        return table[key]

    def create(self, name: str, **options: Any) -> T:
        """Instantiate ``name`` with ``options``; bad options give one clear ``ValueError``."""
        item = self.get(name)
        try:
            return item.cls(**options)
        except TypeError as exc:
            raise ValueError(f"{self.kind} {item.name!r}: bad options {options}: {exc}") from None

    def items(self) -> list[RegisteredItem[T]]:
        """All items sorted by name."""
        table = self._table()
        return [table[k] for k in sorted(table)]

    def names(self) -> list[str]:
        return sorted(self._table())

