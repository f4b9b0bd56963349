"""CLI: ``scalinglab train`` (one training run; needs the ``scalinglab[train]`` extra).

torch is imported inside the command only, so ``scalinglab --help`` works on the core install.
Output paths are checked before training starts (the run folder can be written and holds no
other run unless ``--overwrite``; the ``--json`` file can be written), so no result is lost to a
late failure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from scalinglab.cli.options import Command
from scalinglab.console import Table, console, err_console
from scalinglab.errors import OptionError


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


#: the options of ``train`` that are not ``TrainConfig`` fields (where the run goes, output)
CLI_ONLY = ("out", "resume", "overwrite", "json_out", "quiet")


def _token_count(value: float | None, option: str) -> int | None:
    """A token count given as a number (``3e6``): a whole number in [1, MAX_TOKENS], or
    None."""
    from scalinglab.train.config import MAX_TOKENS

    if value is None:
        return None
    if value != value or value < 1 or value > MAX_TOKENS:
        raise OptionError(option, f"must be a number of tokens from 1 to {MAX_TOKENS:.0e}, "
                          f"got {value}")
    return round(value)


def config_options(params: dict[str, Any]) -> dict[str, Any]:
    """The ``TrainConfig`` fields among the ``train`` command's parameters, in the config's
    terms: token counts as whole numbers, ``--grad-clip 0`` as no clipping (None)."""
    options = {k: v for k, v in params.items() if k not in CLI_ONLY}
    options["tokens"] = _token_count(options["tokens"], "--tokens")
    options["data_tokens"] = _token_count(options["data_tokens"], "--data-tokens")
    if options["grad_clip"] == 0:
        options["grad_clip"] = None
    return options


def build_config(options: dict[str, Any]) -> Any:
    """A :class:`~scalinglab.train.TrainConfig` from CLI options (every option given, None
    where the config's default is None); pydantic's validation errors become an
    :class:`OptionError` naming the option, and the config's own checks raise a
    :class:`~scalinglab.errors.ParameterError` that the command maps onto its flag."""
    from pydantic import ValidationError

    from scalinglab.train.config import TrainConfig

    try:
        return TrainConfig(**options)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err.get("loc") else "config"
        raise OptionError(_flag(field), f"{err['msg']} (got {err.get('input')!r})") from None


def _fmt(v: float | None, spec: str = ".4g") -> str:
    return "-" if v is None else format(v, spec)


def print_result(res: Any) -> None:
    """A short table of the run's numbers."""
    t = Table(title=f"run: {res.shape['n_layer']}L x {res.shape['d_model']}d, "
              f"{res.tokenizer} tokens, data {res.data['name']}", title_justify="left")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    rows = [
        ("validation loss (initial -> final)",
         f"{res.initial_val_loss:.4f} -> {res.final_val_loss:.4f} {res.loss_unit}"),
        ("final training loss", f"{res.final_train_loss:.4f}"),
        ("final validation bits per byte", f"{res.final_val_bpb:.4f}"),
        ("out-of-distribution loss" + (f" ({res.ood_data})" if res.ood_data else ""),
         _fmt(res.ood_val_loss, ".4f")),
        ("noise scale B_simple (tokens)", _fmt(res.noise_scale, ".3g")),
        ("parameters total / non-embedding", f"{res.params_total:,} / "
                                             f"{res.params_nonembedding:,}"),
        ("tokens / steps", f"{res.tokens:,} / {res.steps:,}"),
        (f"FLOPs ({res.flops_convention})", f"{res.flops:.4g}"),
        ("tokens per second", f"{res.tokens_per_second:,.0f}"),
        ("MFU (palm)", "-" if res.mfu is None else f"{res.mfu:.1%}"),
        ("wall time (s)", f"{res.wall_time_s:.1f}"),
        ("device", f"{res.device} ({res.device_name}, {res.precision}, "
                   f"{res.threads} threads)"),
        ("curve", res.curve_path),
    ]
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)


def _check_outputs(cfg: Any, run_dir: Path, explicit: bool, *, resume: bool, overwrite: bool,
                   json_out: str | None) -> None:
    """Before any training: the run folder can be created and written, it holds no other run
    (unless ``--overwrite``), and the ``--json`` file can be written."""
    from scalinglab.jsonio import check_writable
    from scalinglab.train.loop import check_run_folder

    if overwrite and resume:
        raise OptionError("--overwrite", "replaces the run in --out; --resume continues it: "
                          "give one of them")
    what = "" if explicit else " (the default run folder; give --out)"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OptionError("--out", f"cannot create {run_dir}{what}: "
                          f"{exc.strerror or exc}") from None
    check_writable(run_dir / "result.json", "--out")
    if explicit and not overwrite:
        held = check_run_folder(cfg, run_dir, resume=resume)
        if held is not None:
            raise OptionError("--out", f"{held}; continue it with --resume, replace it with "
                              "--overwrite, or give another --out")
    if json_out and json_out != "-":
        check_writable(json_out, "--json")


def register(app: typer.Typer) -> None:
    """Add ``train`` to ``app``."""

    @app.command("train", cls=Command)
    def train_cmd(
        ctx: typer.Context,
        # ------------------------------------------------------------------ shape
        n_layer: Annotated[int, typer.Option("--n-layer", help="Transformer blocks")],
        d_model: Annotated[int, typer.Option("--d-model", help="residual width")],
        n_head: Annotated[int, typer.Option("--n-head", help="attention heads")],
        context: Annotated[int, typer.Option("--context", help="tokens per sequence")],
        batch_size: Annotated[int, typer.Option("--batch-size", help="sequences per step")],
        tokens: Annotated[float, typer.Option(
            "--tokens", help="training tokens, e.g. 3e6 (rounded up to whole steps)")],
        d_ff: Annotated[int | None, typer.Option(help="MLP width (default 4 d_model)")] = None,
        n_kv_head: Annotated[int | None, typer.Option(
            help="key/value heads (GQA; default n_head)")] = None,
        positions: Annotated[str, typer.Option(help="learned | rotary | none")] = "learned",
        mlp: Annotated[str, typer.Option(help="gelu | swiglu")] = "gelu",
        norm: Annotated[str, typer.Option(help="layernorm | rmsnorm")] = "layernorm",
        bias: Annotated[bool, typer.Option(
            "--bias/--no-bias", help="biases in linear layers and norms")] = True,
        tied: Annotated[bool, typer.Option(
            "--tied/--untied", help="output head tied to the token embedding")] = True,
        dropout: Annotated[float, typer.Option(help="dropout rate, in [0, 1)")] = 0.0,
        # ------------------------------------------------------------------ optimiser
        lr: Annotated[float | None, typer.Option(
            help="peak learning rate (default: Kaplan's LR(N), Eq. D.1)")] = None,
        min_lr_ratio: Annotated[float, typer.Option(
            help="final LR / peak LR, in [0, 1] (cosine, wsd)")] = 0.0,
        schedule: Annotated[str, typer.Option(help="cosine | wsd | constant")] = "cosine",
        warmup_steps: Annotated[int | None, typer.Option(
            help="linear warmup steps (default 5% of steps, at most 3000)")] = None,
        decay_fraction: Annotated[float, typer.Option(
            help="wsd: fraction of the steps in the final decay, in (0, 1]")] = 0.2,
        weight_decay: Annotated[float, typer.Option(
            help="AdamW weight decay (matrices and embeddings)")] = 0.1,
        beta1: Annotated[float, typer.Option(help="AdamW beta1, in [0, 1)")] = 0.9,
        beta2: Annotated[float, typer.Option(help="AdamW beta2, in [0, 1)")] = 0.95,
        eps: Annotated[float, typer.Option(help="AdamW epsilon")] = 1e-8,
        grad_clip: Annotated[float, typer.Option(
            help="maximum gradient norm (0: no clipping)")] = 1.0,
        # ------------------------------------------------------------------ data
        data: Annotated[str, typer.Option(
            help="builtin | kjv | shakespeare | stdlib | gcide | synthetic:NAME | PATH (text "
                 "file, folder, .jsonl, .parquet)")] = "builtin",
        text_field: Annotated[str, typer.Option(help="JSONL/Parquet text field")] = "text",
        tokenizer: Annotated[str, typer.Option(help="bytes | bpe:VOCAB")] = "bytes",
        ood_data: Annotated[str, typer.Option(
            help="out-of-distribution corpus: auto | none | a --data value")] = "auto",
        val_fraction: Annotated[float, typer.Option(
            help="validation split of the corpus, in (0, 0.5)")] = 0.05,
        data_tokens: Annotated[float | None, typer.Option(
            help="unique training tokens: the training split cut to this many, repeated as "
                 "needed (default: all of it)")] = None,
        seed: Annotated[int, typer.Option(help="random seed (initialisation, batches)")] = 0,
        # ------------------------------------------------------------------ evaluation
        eval_every: Annotated[int | None, typer.Option(help="steps (default: 10 evals)")
                              ] = None,
        eval_tokens: Annotated[int, typer.Option(help="validation tokens per eval")
                               ] = 65_536,
        final_eval_tokens: Annotated[int | None, typer.Option(
            help="validation tokens of the last eval (default: --eval-tokens)")] = None,
        noise_scale: Annotated[bool, typer.Option(
            "--noise-scale", help="estimate B_simple at each eval")] = False,
        noise_scale_batches: Annotated[int, typer.Option(
            help="batches per noise-scale estimate (>= 2)")] = 8,
        flops_convention: Annotated[str, typer.Option(
            help="6N | 6N-nonembedding | 6N-head | kaplan | chinchilla | palm")] = "6N",
        checkpoint_every: Annotated[int | None, typer.Option(
            help="steps between checkpoints")] = None,
        # ------------------------------------------------------------------ hardware
        device: Annotated[str, typer.Option(help="cpu | cuda | cuda:N | mps | auto")] = "cpu",
        precision: Annotated[str, typer.Option(help="auto | fp32 | bf16")] = "auto",
        compile: Annotated[bool, typer.Option("--compile", help="torch.compile the model")
                           ] = False,
        threads: Annotated[int | None, typer.Option(
            help="CPU threads (default: cores / $SCALINGLAB_CONCURRENT_RUNS)")] = None,
        peak_flops: Annotated[float | None, typer.Option(help="device peak FLOP/s for MFU")
                              ] = None,
        # ------------------------------------------------------------------ not the config's
        out: Annotated[Path | None, typer.Option(
            help="run folder (default: under the cache, by config hash)")] = None,
        resume: Annotated[bool, typer.Option(
            "--resume", help="continue from the latest checkpoint in --out")] = False,
        overwrite: Annotated[bool, typer.Option(
            "--overwrite", help="replace the run already in --out (its result and "
            "checkpoint)")] = False,
        json_out: Annotated[str | None, typer.Option(
            "--json", help="write the result as JSON to this file ('-': stdout)")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
    ) -> None:
        """Train one GPT-style model and record losses, N, FLOPs, tokens/s, MFU and the curve.

        Every option but the last group is a field of ``TrainConfig`` (same name, default and
        allowed values)."""
        options = config_options(ctx.params)
        cfg = build_config(options)
        try:
            from scalinglab.train import TrainingInterrupted, train
        except ImportError as exc:
            raise OptionError("train", f"training needs the train extra "
                              f"(pip install 'scalinglab[train]'): {exc}") from None
        from scalinglab.data.cache import cache_dir, digest

        run_dir = out if out is not None else (
            cache_dir() / "runs" / digest([json.dumps(cfg.model_dump(), sort_keys=True)], 12))
        _check_outputs(cfg, run_dir, out is not None, resume=resume, overwrite=overwrite,
                       json_out=json_out)
        if not quiet:
            err_console.print(f"run folder: {run_dir}", highlight=False)
        try:
            res = train(cfg, run_dir, resume=resume, progress=not quiet)
        except TrainingInterrupted as exc:
            err_console.print(f"[yellow]interrupted[/] after step {exc.step}; checkpoint "
                              f"{exc.checkpoint}; continue with --resume --out {run_dir}",
                              highlight=False, soft_wrap=True)
            sys.exit(128 + exc.signum)
        payload = json.dumps(res.model_dump(mode="json"), indent=1)
        if json_out == "-":
            sys.stdout.write(payload + "\n")
            return
        print_result(res)
        if json_out:
            from scalinglab.train.checkpoint import atomic_write_text

            try:
                atomic_write_text(Path(json_out), payload + "\n")
            except OSError as exc:
                raise OptionError("--json", f"cannot write {json_out}: {exc.strerror or exc}; "
                                  f"the run's result is kept in {run_dir / 'result.json'}"
                                  ) from None
            console.print(f"wrote {json_out}", highlight=False)
