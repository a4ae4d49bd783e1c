"""Names a package exports but imports on first use (PEP 562).

A package lists ``name -> module`` (or ``name -> (module, attribute)`` where the two differ) and
gets back the module-level ``__getattr__`` and ``__dir__`` that import a name when it is first
read and keep it as an ordinary attribute after. Used where importing eagerly would pull in the
AWS stack or aiohttp for a caller that never needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, namespace: dict[str, Any], table: Mapping[str, str | tuple[str, str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose globals are ``namespace``."""
    where = {name: (spec, name) if isinstance(spec, str) else spec for name, spec in table.items()}

    def __getattr__(name: str) -> Any:
        try:
            module, attribute = where[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(import_module(module, package), attribute)
        namespace[name] = value  # once imported, an ordinary attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__
