"""Fixtures of the sweep and run-store tests.

Tests marked ``train`` need PyTorch (the ``train`` extra) and tests marked ``ray`` need Ray (the
``ray`` extra); they are skipped, with the reason, where those are not importable. This folder
is on ``sys.path`` (so that pool workers, spawned fresh, can import ``sweep_fakes``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def _importable(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = {"train": not _importable("torch"), "ray": not _importable("ray")}
    for item in items:
        if HERE not in Path(str(item.fspath)).resolve().parents:
            continue
        for marker, absent in missing.items():
            if absent and marker in item.keywords:
                extra = "train" if marker == "train" else "ray"
                item.add_marker(pytest.mark.skip(
                    reason=f"needs the {extra} extra ({'torch' if marker == 'train' else 'ray'})"))


@pytest.fixture
def grid_spec() -> dict:
    """A 2 x 2 grid of tiny models (as a dict, before validation)."""
    return {
        "name": "grid",
        "context": 32,
        "batch_size": 4,
        "design": {
            "kind": "grid",
            "models": [{"n_layer": 1, "d_model": 16, "n_head": 1},
                       {"n_layer": 1, "d_model": 32, "n_head": 2}],
            "tokens": [2.0e4, 4.0e4],
        },
    }
