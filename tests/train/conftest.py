"""Trainer tests: skipped without torch; one thread; a private token cache per session."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

if importlib.util.find_spec("torch") is None:  # the train extra is not installed
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the whole session (the built-in corpus is tokenised once)."""
    return tmp_path_factory.mktemp("scalinglab-cache")


@pytest.fixture(autouse=True)
def _isolated(session_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the cache at the session's tmp folder and use one CPU thread."""
    import torch

    monkeypatch.setenv("SCALINGLAB_CACHE", str(session_cache))
    monkeypatch.delenv("SCALINGLAB_CONCURRENT_RUNS", raising=False)
    monkeypatch.delenv("SCALINGLAB_PEAK_FLOPS", raising=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY: dict[str, object] = dict(n_layer=1, d_model=32, n_head=2, context=32, batch_size=8,
                               tokens=8 * 32 * 20, lr=3e-3, eval_every=5, eval_tokens=1024,
                               threads=1, ood_data="none")


@pytest.fixture
def tiny() -> Callable[..., Any]:
    """``tiny(**overrides)``: a TrainConfig that trains in well under a second on one thread."""
    from scalinglab.train import TrainConfig

    def make(**overrides: object) -> Any:
        return TrainConfig(**{**TINY, **overrides})

    return make
