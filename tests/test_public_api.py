from __future__ import annotations

import importlib
from pathlib import Path

import asyncfilter
import asyncfilter.testing


def test_all_is_complete() -> None:
    # (its order is ruff's RUF022 job)
    for module in (asyncfilter, asyncfilter.testing):
        names = module.__all__
        assert len(set(names)) == len(names)
        for name in names:
            assert hasattr(module, name), name
        public = {n for n in vars(module) if not n.startswith("_")}
        submodules = {n for n in public if isinstance(getattr(module, n), type(importlib))}
        assert public - submodules - set(names) == set(), "public names missing from __all__"


def test_package_is_typed() -> None:
    assert (Path(asyncfilter.__file__).parent / "py.typed").exists()
