"""Shared test helpers: run the CLI in-process and capture its exit code and output."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scalinglab.cli import main


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``cli("fit", "data.csv", ...)`` -> (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = 0
        try:
            main(list(argv))
        except SystemExit as exc:  # Typer/click exit
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
