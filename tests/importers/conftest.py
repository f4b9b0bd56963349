"""Fixtures of the importer tests: an isolated, offline environment for the trackers, and the
synthetic runs (a known law) that the tests write through the real libraries.

Tests of a source skip, with the reason, where its library (the extra) is not installed. No
test reaches the network: W&B runs in offline mode with its folders in ``tmp_path``, MLflow's
telemetry is off, and the MLflow server binds 127.0.0.1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SWEEP_TESTS = Path(__file__).resolve().parents[1] / "sweep"
if str(SWEEP_TESTS) not in sys.path:  # sweep_fakes (the stand-in trainer of the sweep tests)
    sys.path.insert(0, str(SWEEP_TESTS))


@pytest.fixture(autouse=True)
def offline_trackers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every tracker offline and inside tmp_path."""
    for k, v in {
        "WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true",
        "WANDB_DISABLE_GIT": "true", "WANDB_DISABLE_CODE": "true", "WANDB_CONSOLE": "off",
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"),
        "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache"),
        "WANDB_DATA_DIR": str(tmp_path / "wandb-data"), "WANDB_ERROR_REPORTING": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
        "MLFLOW_ALLOW_FILE_STORE": "true",
    }.items():
        monkeypatch.setenv(k, v)
    for k in ("WANDB_API_KEY", "WANDB_BASE_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(k, raising=False)
