"""Every command reports a library error against its own flags, and library code speaks
Python (issue 14): a :class:`~scalinglab.errors.ParameterError` names the Python parameter,
the CLI turns it (and any other ``name=`` parameter its message mentions) into flags."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import typer

from scalinglab.accounting.convert import convert_params, embedding_gamma
from scalinglab.cli import app
from scalinglab.cli.options import Command, Group
from scalinglab.errors import ParameterError
from scalinglab.importers import read_source
from scalinglab.plan import plan_document, plan_law

SRC = Path(__file__).resolve().parents[1] / "src" / "scalinglab"


def _commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):  # a group (typer vendors its own click)
            assert isinstance(cmd, Group), f"{prefix}{name}: a command group that is not a Group"
            out += _commands(cmd, f"{prefix}{name} ")
        else:
            out.append((prefix + name, cmd))
    return out


def test_every_command_maps_library_errors_onto_its_flags() -> None:
    cmds = _commands(typer.main.get_command(app))
    assert len(cmds) >= 20
    plain = [name for name, cmd in cmds if not isinstance(cmd, Command)]
    assert not plain, f"commands that would print library errors in Python terms: {plain}"


def test_library_raises_name_python_parameters_never_flags() -> None:
    """No error raised outside the CLI passes a literal ``--flag`` as the name to blame."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if "cli" in path.relative_to(SRC).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in (
                    "OptionError", "ParameterError", "argument_error") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and str(first.value).startswith("--"):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not offenders, offenders


def test_library_errors_name_the_parameter() -> None:
    with pytest.raises(ParameterError, match=r"^argument target: "):
        convert_params(1.0, source="total", target="kaplan")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"^argument aspect_ratio: "):
        embedding_gamma(32000, -1.0)
    pl = plan_law(None, "hoffmann")
    with pytest.raises(ParameterError, match=r"^argument inference_tokens: .*unique_tokens="):
        plan_document(pl, compute=1e21, inference_tokens=1e9, unique_tokens=1e9)
    with pytest.raises(ParameterError, match=r"^argument tags: only for TensorBoard"):
        read_source("mlflow:" + str(SRC), tags=["loss"])


def test_cli_turns_other_parameters_into_flags(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("plan", "--compute", "1e21", "--inference-tokens", "1e9",
                       "--unique-tokens", "1e9")
    text = " ".join(err.split())
    assert code == 2 and "option --inference-tokens:" in text and "--unique-tokens" in text
    assert not re.search(r"\bunique_tokens=", text), text
    code, _, err = cli("plan", "--compute", "1e21", "--gpu", "h100", "--peak-tflops", "900")
    text = " ".join(err.split())
    assert code == 2 and "option --peak-tflops: give either --gpu or --peak-tflops" in text
