"""``scalinglab train``'s options against ``TrainConfig``'s fields, the one list of trainer
options: every field has a flag, with the field's default and allowed values, and every flag
reaches the config the run is given (the trainer itself is replaced by a stub that records
the config: nothing trains)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types as at
import pytest
import typer

import scalinglab.train
from scalinglab.accounting import FLOP_CONVENTIONS
from scalinglab.cli import app
from scalinglab.cli.train_cmds import CLI_ONLY
from scalinglab.train.config import DEVICES, TrainConfig

FIELDS = TrainConfig.model_fields
REQUIRED = ["--n-layer", "1", "--d-model", "32", "--n-head", "2", "--context", "32",
            "--batch-size", "8", "--tokens", "2560"]


def _train_params() -> dict[str, Any]:
    command = typer.main.get_command(app).commands["train"]  # type: ignore[attr-defined]
    return {p.name: p for p in command.params}


def _flag(param: Any) -> str:
    return next(o for o in param.opts if o.startswith("--"))


class _Stop(Exception):
    """Raised by the stub trainer once it has the config."""


@pytest.fixture
def given(monkeypatch: pytest.MonkeyPatch, cli: Callable[..., tuple[int, str, str]],
          tmp_path: Path) -> Callable[..., Any]:
    """``given(*args)``: the TrainConfig that ``train REQUIRED *args`` hands the trainer."""
    seen: list[Any] = []

    def stub(cfg: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(cfg)
        raise _Stop

    monkeypatch.setattr(scalinglab.train, "train", stub)

    def run(*args: str) -> Any:
        with pytest.raises(_Stop):
            cli("train", *REQUIRED, "--out", str(tmp_path / f"run{len(seen)}"), "--quiet",
                *args)
        return seen[-1]

    return run


def test_every_field_is_an_option_with_the_same_default() -> None:
    params = _train_params()
    assert set(params) - set(CLI_ONLY) == set(FIELDS)  # no field without a flag, no stray
    for name, field in FIELDS.items():
        param = params[name]
        assert _flag(param) == "--" + name.replace("_", "-")
        if field.is_required():
            assert param.required, name
        else:
            assert not param.required and param.default == field.default, name


def test_choice_options_list_the_allowed_values() -> None:
    """The help of a choice option lists exactly the values the config accepts."""
    params = _train_params()
    choices: dict[str, tuple[str, ...]] = {
        name: get_args(f.annotation) for name, f in FIELDS.items()
        if get_origin(f.annotation) is Literal}
    assert set(choices) == {"positions", "mlp", "norm", "schedule", "precision"}
    choices["device"] = DEVICES
    choices["flops_convention"] = tuple(FLOP_CONVENTIONS)
    for name, values in choices.items():
        listed = [v.strip() for v in params[name].help.split("|")]
        assert sorted(listed) == sorted(values), name


#: a value other than the default for every field, as the command line gives it and as the
#: config should hold it
OTHER: dict[str, tuple[list[str], Any]] = {
    "n_layer": (["--n-layer", "2"], 2),
    "d_model": (["--d-model", "48"], 48),
    "n_head": (["--n-head", "3"], 3),
    "context": (["--context", "16"], 16),
    "batch_size": (["--batch-size", "4"], 4),
    "tokens": (["--tokens", "1e3"], 1000),
    "d_ff": (["--d-ff", "64"], 64),
    "n_kv_head": (["--n-kv-head", "1"], 1),
    "positions": (["--positions", "rotary"], "rotary"),
    "mlp": (["--mlp", "swiglu"], "swiglu"),
    "norm": (["--norm", "rmsnorm"], "rmsnorm"),
    "bias": (["--no-bias"], False),
    "tied": (["--untied"], False),
    "dropout": (["--dropout", "0.1"], 0.1),
    "lr": (["--lr", "1e-3"], 1e-3),
    "min_lr_ratio": (["--min-lr-ratio", "0.1"], 0.1),
    "schedule": (["--schedule", "wsd"], "wsd"),
    "warmup_steps": (["--warmup-steps", "3"], 3),
    "decay_fraction": (["--decay-fraction", "0.3"], 0.3),
    "weight_decay": (["--weight-decay", "0.05"], 0.05),
    "beta1": (["--beta1", "0.8"], 0.8),
    "beta2": (["--beta2", "0.99"], 0.99),
    "eps": (["--eps", "1e-6"], 1e-6),
    "grad_clip": (["--grad-clip", "0"], None),
    "data": (["--data", "shakespeare"], "shakespeare"),
    "text_field": (["--text-field", "body"], "body"),
    "tokenizer": (["--tokenizer", "bpe:300"], "bpe:300"),
    "ood_data": (["--ood-data", "none"], "none"),
    "val_fraction": (["--val-fraction", "0.1"], 0.1),
    "data_tokens": (["--data-tokens", "5e3"], 5000),
    "seed": (["--seed", "3"], 3),
    "eval_every": (["--eval-every", "2"], 2),
    "eval_tokens": (["--eval-tokens", "512"], 512),
    "final_eval_tokens": (["--final-eval-tokens", "4096"], 4096),
    "noise_scale": (["--noise-scale"], True),
    "noise_scale_batches": (["--noise-scale-batches", "4"], 4),
    "flops_convention": (["--flops-convention", "palm"], "palm"),
    "checkpoint_every": (["--checkpoint-every", "5"], 5),
    "device": (["--device", "auto"], "auto"),
    "precision": (["--precision", "fp32"], "fp32"),
    "compile": (["--compile"], True),
    "threads": (["--threads", "1"], 1),
    "peak_flops": (["--peak-flops", "1e12"], 1e12),
}


def test_every_option_reaches_the_config(given: Callable[..., Any]) -> None:
    assert set(OTHER) == set(FIELDS)
    defaults = given()
    cfg = given(*[a for args, _ in OTHER.values() for a in args])
    for name, (_, value) in OTHER.items():
        assert getattr(defaults, name) != value, name  # the flag changed something
        assert getattr(cfg, name) == value, name
    assert given("--grad-clip", "0.5").grad_clip == 0.5


def _outside(field: Any) -> list[float]:
    """Values just outside each bound of ``field`` (a strict bound is itself outside)."""
    out: list[float] = []
    for m in field.metadata:
        if isinstance(m, at.Gt):
            out.append(float(m.gt))
        elif isinstance(m, at.Ge):
            out.append(float(m.ge) - 1)
        elif isinstance(m, at.Lt):
            out.append(float(m.lt))
        elif isinstance(m, at.Le):
            out.append(float(m.le) + 1)
    return out


@pytest.mark.parametrize("name", [n for n, f in FIELDS.items() if _outside(f)])
def test_values_the_config_refuses_are_refused_naming_the_flag(
        name: str, cli: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    flag = "--" + name.replace("_", "-")
    integer = FIELDS[name].annotation in (int, int | None)
    for value in _outside(FIELDS[name]):
        if name == "grad_clip" and value == 0:
            value = -1.0  # 0 is the command line's "no clipping"
        text = str(int(value)) if integer else str(value)
        args = [a for a in REQUIRED]
        if flag in args:
            i = args.index(flag)
            del args[i:i + 2]
        code, _, err = cli("train", *args, flag, text, "--out", str(tmp_path))
        assert code == 2 and re.search(rf"option {flag}\b", err), (name, value, err)
        assert "Traceback" not in err
