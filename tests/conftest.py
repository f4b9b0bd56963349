"""Shared test helpers: run the CLI in-process and capture its exit code and output."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from scalinglab.cli import main

# A test run started in the background by a non-interactive shell (``cmd &``, CI wrappers)
# inherits SIGINT ignored, and so would every process the tests start: the tests that press
# Ctrl-C on a sweep driver or a trainer would then see it ignored. Catching SIGINT here makes
# it the default again in every child (a caught signal is reset at exec; an ignored one is not).
signal.signal(signal.SIGINT, signal.default_int_handler)


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
