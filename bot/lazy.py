"""Package exports loaded on first use (PEP 562), so importing one module of a
package does not import all of its siblings.

`bot.classify` and `bot.edition` re-export their parts' names for callers; with
eager imports, `import bot.edition.weeks` (for a week key) also imported the
renderer, and `import bot.classify.lint` the whole classifier. What it does not do:
hide an import error (a missing name raises AttributeError at once).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` that imports `package.<homes[name]>` when `name` is
    first asked for, and keeps the value in the package's namespace."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        setattr(importlib.import_module(package), name, value)
        return value

    return __getattr__
