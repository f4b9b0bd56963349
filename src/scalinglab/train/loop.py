"""The training loop: :func:`train` runs one :class:`TrainConfig` into a run folder.

One run = prepare the tokens (cached), build the model from its accounting shape, evaluate at
step 0, then ``steps`` AdamW steps with the schedule, evaluating every ``eval_every`` steps
(validation loss, the running training loss, lr and optionally the noise scale go to
``curve.csv``), checkpointing every ``checkpoint_every`` steps and on SIGTERM / SIGINT, and
finally measuring the training loss, the per-position and out-of-distribution losses and writing
``result.json``. ``resume=True`` continues from ``checkpoint.pt`` (or returns the stored result
of a finished run with the same configuration); on CPU with the same thread count the resumed
run is bit-for-bit the uninterrupted one. An unreadable checkpoint or ``result.json`` is renamed
aside (``*.corrupt-<time>``) with a warning on stderr, and the run starts again from scratch.
What a run accumulates (the curve, the running training loss, the
:class:`~scalinglab.train.clock.Clock` that times its steps) is one
:class:`~scalinglab.train.checkpoint.RunState`, written into and read from a checkpoint by
:func:`~scalinglab.train.checkpoint.make_checkpoint` and
:func:`~scalinglab.train.checkpoint.restore_checkpoint`. An unset ``lr`` is resolved by
:func:`~scalinglab.train.config.default_lr`. Errors name the config field
(:class:`~scalinglab.errors.ParameterError`); the CLI maps them onto its flags.
:func:`check_run_folder` says whether a folder already holds a run (``train --out`` refuses
to replace one without ``--overwrite``).

``train`` is safe to call in a worker process of a sweep: it sets torch's intra-op threads to
``threads`` (and on CPU glibc's malloc thresholds: ``hardware.retained_heap``) for its duration
and restores them, writes only inside ``out_dir``, and installs its
signal handlers only when it runs in the main thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import torch

from scalinglab.accounting import FLOP_CONVENTIONS, count_params, flops_per_token
from scalinglab.console import progress as progress_bar
from scalinglab.data import (
    DEFAULT_OOD,
    TokenData,
    get_tokenizer,
    prepare_tokens,
    resolve_corpus,
)
from scalinglab.data.synthetic import SyntheticData, is_synthetic, synthetic_data
from scalinglab.errors import ParameterError
from scalinglab.train import checkpoint as ckpt
from scalinglab.train.checkpoint import RunState
from scalinglab.train.config import RunResult, TrainConfig, default_lr
from scalinglab.train.evaluate import (
    Evaluation,
    autocast,
    evaluate,
    noise_scale,
    to_device,
    train_batch,
)
from scalinglab.train.hardware import (
    device_name,
    peak_flops,
    resolve_device,
    resolve_precision,
    resolve_threads,
    retained_heap,
)
from scalinglab.train.model import GPT
from scalinglab.train.optim import default_warmup, lr_at, make_optimizer

#: evaluation batches hold at least this many windows (fewer calls; no gradients to keep)
EVAL_BATCH = 64


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by :func:`train` after SIGINT/SIGTERM, once the checkpoint has been written."""

    def __init__(self, signum: int, step: int, checkpoint: Path) -> None:
        super().__init__(f"interrupted by signal {signum} after step {step}; checkpoint "
                         f"{checkpoint} (continue with resume=True)")
        self.signum, self.step, self.checkpoint = signum, step, checkpoint


@contextmanager
def _signals_to_flag(flag: dict[str, int | None]) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM set ``flag["signal"]`` instead of killing the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        flag["signal"] = signum

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _check_fits(td: TokenData, context: int, name: str) -> None:
    for split, arr in (("training", td.train), ("validation", td.val)):
        if len(arr) < context + 2:
            raise ParameterError("context", f"context={context} is larger than the {split} "
                                 f"split of {name} ({len(arr)} tokens; the corpus has "
                                 f"{td.manifest['tokens']}): use a shorter context or more "
                                 "data")


def _cut_train(td: TokenData, data_tokens: int, name: str) -> TokenData:
    """``td`` with its training split cut to its first ``data_tokens`` tokens."""
    if data_tokens > len(td.train):
        raise ParameterError("data_tokens", f"data_tokens={data_tokens} is more than the "
                             f"{len(td.train)} training tokens of {name}")
    manifest = {**td.manifest, "train_tokens": int(data_tokens),
                "train_tokens_available": len(td.train)}
    return dataclasses.replace(td, train=td.train[:data_tokens], manifest=manifest)


def _ood_name(cfg: TrainConfig, corpus_kind: str, corpus_name: str) -> str | None:
    spec = cfg.ood_data
    if spec is None or spec.lower() == "none":
        return None
    if spec.lower() == "auto":
        if corpus_kind in ("shipped", "stdlib", "gcide"):
            return DEFAULT_OOD.get(corpus_name)
        return None
    return spec


def _warn(message: str) -> None:
    from scalinglab.console import err_console

    err_console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)


def _stored_result(out: Path, quarantine: bool = True) -> RunResult | None:
    """The ``result.json`` of ``out``; an unreadable one is renamed aside (with a warning)
    unless ``quarantine`` is False (None either way)."""
    path = out / ckpt.RESULT
    if not path.exists():
        return None
    try:
        return RunResult.model_validate_json(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:  # pydantic's ValidationError is a ValueError
        if not quarantine:
            return None
        moved = ckpt.quarantine(path)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _warn(f"result {path} is unreadable ({first}); moved it aside to {moved.name}")
        return None


def check_run_folder(cfg: TrainConfig, out: Path, *, resume: bool) -> str | None:
    """Why training ``cfg`` into ``out`` would replace another run's files, or None.

    Without ``resume`` any result or checkpoint in ``out`` would be deleted; with it, a result
    of a different configuration would be (a checkpoint of a different configuration is refused
    by the resume itself).
    """
    held = [n for n in (ckpt.RESULT, ckpt.CHECKPOINT) if (out / n).exists()]
    if not held:
        return None
    result = _stored_result(out, quarantine=False) if ckpt.RESULT in held else None
    diff = cfg.differences(result.config) if result is not None else []
    if resume and not diff:
        return None
    if resume and ckpt.CHECKPOINT in held:
        return None
    what = " and ".join(held)
    other = f" of a different configuration (it differs in {', '.join(diff)})" if diff else ""
    return f"{out} already holds a run ({what}){other}"


def train(cfg: TrainConfig, out_dir: Path | str, resume: bool = False,
          progress: bool = True) -> RunResult:
    """Run (or resume) the training described by ``cfg`` in ``out_dir``; see the module docs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if resume:
        done = _stored_result(out)
        if done is not None and not cfg.differences(done.config):
            return done
    device = resolve_device(cfg.device)
    threads = resolve_threads(cfg.threads)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    heap = retained_heap() if device.type == "cpu" else contextlib.nullcontext()
    try:
        with heap:
            return _Run(cfg, out, device, threads, progress).run(resume)
    finally:
        torch.set_num_threads(previous)


class _Run:
    """State of one training run (split out of :func:`train` for readability)."""

    def __init__(self, cfg: TrainConfig, out: Path, device: torch.device, threads: int,
                 show_progress: bool) -> None:
        self.cfg, self.out, self.device, self.threads = cfg, out, device, threads
        self.show_progress = show_progress
        self.precision = resolve_precision(cfg.precision, device)
        self.state = RunState()  # its clock starts now
        if device.type == "cuda":
            self.state.clock.sync = lambda: torch.cuda.synchronize(device)

    # ------------------------------------------------------------------ setup
    def _prepare_data(self) -> None:
        cfg = self.cfg
        self.ood: TokenData | None = None
        if is_synthetic(cfg.data):
            if cfg.tokenizer not in ("bytes", "synthetic"):
                raise ParameterError("tokenizer", f"{cfg.data} has its own tokens; leave "
                                     "tokenizer at its default ('bytes')")
            self.data: TokenData | SyntheticData = synthetic_data(cfg.data)
            self.tokenizer: Any = self.data.tokenizer
            self.ood_name = None
            if cfg.data_tokens is not None:
                raise ParameterError("data_tokens", f"{cfg.data} is an unbounded stream; "
                                     "data_tokens applies to a finite corpus")
            if cfg.ood_data not in (None, "none", "auto"):
                raise ParameterError("ood_data", "a synthetic source has no "
                                     "out-of-distribution set; set ood_data to 'none'")
            return
        self.corpus = resolve_corpus(cfg.data, text_field=cfg.text_field)
        self.tokenizer = get_tokenizer(cfg.tokenizer, self.corpus)
        self.data = prepare_tokens(self.corpus, self.tokenizer, val_fraction=cfg.val_fraction)
        if cfg.data_tokens is not None:
            self.data = _cut_train(self.data, cfg.data_tokens, self.corpus.name)
        _check_fits(self.data, cfg.context, self.corpus.name)
        self.ood_name = _ood_name(cfg, self.corpus.kind, self.corpus.name)
        if self.ood_name is not None:
            ood_corpus = resolve_corpus(self.ood_name, text_field=cfg.text_field)
            self.ood = prepare_tokens(ood_corpus, self.tokenizer, val_fraction=cfg.val_fraction)
            _check_fits(self.ood, cfg.context, ood_corpus.name)

    def _build(self) -> None:
        cfg = self.cfg
        self.shape = cfg.shape(self.tokenizer.vocab_size)
        self.counts = count_params(self.shape)
        torch.manual_seed(cfg.seed)
        self.model = GPT(self.shape, dropout=cfg.dropout).to(self.device)
        n = sum(p.numel() for p in self.model.parameters())
        if n != self.counts.total:  # pragma: no cover - guarded by tests
            raise RuntimeError(f"model has {n} parameters, accounting says {self.counts.total}")
        self.steps = cfg.steps
        self.warmup = min(self.steps, cfg.warmup_steps if cfg.warmup_steps is not None
                          else default_warmup(self.steps))
        self.peak_lr = default_lr(cfg.lr, self.counts.nonembedding)
        self.optimizer = make_optimizer(self.model, cfg, self.peak_lr, self.device)
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.loss_fn = torch.compile(self.model.loss) if cfg.compile else self.model.loss
        self.eval_every = cfg.eval_every or max(1, self.steps // 10)
        self.eval_windows = max(1, cfg.eval_tokens // cfg.context)
        self.final_windows = max(1, (cfg.final_eval_tokens or cfg.eval_tokens) // cfg.context)
        self.fpt = flops_per_token(self.shape, cfg.flops_convention)

    def _lr(self, step: int) -> float:
        cfg = self.cfg
        return lr_at(step, peak=self.peak_lr, steps=self.steps, warmup=self.warmup,
                     schedule=cfg.schedule, min_lr_ratio=cfg.min_lr_ratio,
                     decay_fraction=cfg.decay_fraction)

    def _evaluate(self, data: Any, final: bool = False) -> Evaluation:
        windows = self.final_windows if final else self.eval_windows
        return evaluate(self.model, data, context=self.cfg.context, max_windows=windows,
                        batch_size=max(self.cfg.batch_size, EVAL_BATCH), device=self.device,
                        precision=self.precision, loss_fn=self.loss_fn)

    def _noise_scale(self, step: int) -> float | None:
        if not self.cfg.noise_scale:
            return None
        return noise_scale(self.model, self.data.train, seed=self.cfg.seed, step=step,
                           batch_size=self.cfg.batch_size, context=self.cfg.context,
                           n_batches=self.cfg.noise_scale_batches, device=self.device,
                           precision=self.precision, loss_fn=self.loss_fn)

    def _epochs(self, tokens: int) -> float:
        """Passes over the training split (0 for an unbounded synthetic stream)."""
        available = self.data.manifest.get("train_tokens")
        return tokens / available if available else 0.0

    def _save(self, step: int) -> Path:
        return ckpt.save_checkpoint(self.out, ckpt.make_checkpoint(
            self.cfg.model_dump(), step, self.model, self.optimizer, self.device, self.state))

    def _restore(self, data: dict[str, Any]) -> int:
        saved = TrainConfig.model_validate(data["config"])
        diff = self.cfg.differences(saved)
        if diff:
            raise ParameterError("resume", f"the checkpoint in {self.out} was written by a "
                                 f"different configuration (differs in {', '.join(diff)}); "
                                 "train into another folder, or start afresh without "
                                 "resuming")
        return ckpt.restore_checkpoint(data, self.model, self.optimizer, self.device,
                                       self.state)

    # ------------------------------------------------------------------ main
    def run(self, resume: bool) -> RunResult:
        cfg, out = self.cfg, self.out
        self._prepare_data()
        self._build()
        saved = ckpt.load_checkpoint(out, warn=_warn) if resume else None
        if saved is not None:
            start = self._restore(saved)
            self.resumed_from: int | None = start
        else:
            for name in (ckpt.CHECKPOINT, ckpt.RESULT, ckpt.CURVE):
                (out / name).unlink(missing_ok=True)
            start, self.resumed_from = 0, None
            st = self.state
            st.initial_val_loss = self._evaluate(self.data.val).loss
            st.curve.append({"step": 0, "tokens": 0, "flops": 0.0, "train_loss": None,
                             "val_loss": st.initial_val_loss, "lr": self._lr(0),
                             "noise_scale": self._noise_scale(0),
                             "elapsed_s": st.clock.elapsed()})
        ckpt.write_json(out / ckpt.CONFIG, cfg.model_dump())
        ckpt.write_curve(out / ckpt.CURVE, self.state.curve)
        last_eval = self._loop(start)
        return self._finish(last_eval)

    def _loop(self, start: int) -> Evaluation | None:
        cfg, model, opt, st = self.cfg, self.model, self.optimizer, self.state
        params = [p for p in model.parameters() if p.requires_grad]
        flag: dict[str, int | None] = {"signal": None}
        last_eval: Evaluation | None = None
        model.train()
        bar = progress_bar(transient=True, disable=not self.show_progress)
        with _signals_to_flag(flag), bar:
            task = bar.add_task("training", total=self.steps, completed=start)
            last_shown = time.perf_counter()
            loss_acc = torch.zeros((), device=self.device)
            acc_n = 0
            st.clock.start_training()
            for step in range(start, self.steps):
                lr = self._lr(step)
                for group in opt.param_groups:
                    group["lr"] = lr
                xy = to_device(train_batch(self.data.train, seed=cfg.seed, step=step,
                                           batch_size=cfg.batch_size, context=cfg.context),
                               self.device)
                with autocast(self.device, self.precision):
                    loss = self.loss_fn(xy[:, :-1], xy[:, 1:])
                loss.backward()
                if cfg.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip, foreach=True)
                opt.step()
                opt.zero_grad(set_to_none=True)
                loss_acc += loss.detach()
                acc_n += 1
                done = step + 1
                if step == start:  # the session's first step (allocation, compilation)
                    st.clock.first_step_done()
                is_eval = done % self.eval_every == 0 or done == self.steps
                ckpt_due = (cfg.checkpoint_every is not None and done % cfg.checkpoint_every == 0
                            and done < self.steps)
                if is_eval or ckpt_due or flag["signal"] is not None:
                    st.loss_sum += float(loss_acc)
                    st.loss_count += acc_n
                    loss_acc.zero_()
                    acc_n = 0
                    st.clock.steps_done()
                    if is_eval:
                        last_eval = self._eval_point(done, lr)
                    if ckpt_due or flag["signal"] is not None:
                        path = self._save(done)
                        if flag["signal"] is not None:
                            raise TrainingInterrupted(int(flag["signal"]), done, path)
                    st.clock.mark()
                if self.show_progress:
                    now = time.perf_counter()
                    if now - last_shown > 0.5 or done == self.steps:
                        last_shown = now
                        tps = (done - start) * cfg.tokens_per_step / max(
                            1e-9, st.clock.session_train_time())
                        bar.update(task, completed=done, description=(
                            f"loss {float(loss.detach()):.3f} | {tps / 1e3:,.1f}k tok/s"))
        return last_eval

    def _eval_point(self, done: int, lr: float) -> Evaluation:
        st = self.state
        ev = self._evaluate(self.data.val, final=done == self.steps)
        train_loss = st.loss_sum / st.loss_count if st.loss_count else None
        st.loss_sum, st.loss_count = 0.0, 0
        tokens = done * self.cfg.tokens_per_step
        st.curve.append({"step": done, "tokens": tokens, "flops": self.fpt * tokens,
                         "train_loss": train_loss, "val_loss": ev.loss, "lr": lr,
                         "noise_scale": self._noise_scale(done),
                         "elapsed_s": st.clock.elapsed()})
        ckpt.write_curve(self.out / ckpt.CURVE, st.curve)
        self.model.train()
        return ev

    def _finish(self, last_eval: Evaluation | None) -> RunResult:
        cfg, out, st = self.cfg, self.out, self.state
        if last_eval is None:  # resumed after the last evaluation: measure again
            last_eval = self._evaluate(self.data.val, final=True)
        final_val = float(st.curve[-1]["val_loss"])
        final_train = self._evaluate(self.data.train).loss
        ood_loss = self._evaluate(self.ood.val).loss if self.ood is not None else None
        tokens = self.steps * cfg.tokens_per_step
        tps, tpcs = st.clock.rates(tokens, cfg.tokens_per_step)
        peak, peak_src = peak_flops(self.device, self.precision, self.threads, cfg.peak_flops)
        mfu = (flops_per_token(self.shape, "palm") * tps / peak) if peak else None
        if cfg.checkpoint_every is not None:
            ckpt_path: Path | None = self._save(self.steps)
        else:
            (out / ckpt.CHECKPOINT).unlink(missing_ok=True)
            ckpt_path = None
        bpt = self.data.bytes_per_token
        result = RunResult(
            config=cfg,
            loss_unit=f"nats per token ({self.tokenizer.name} tokenizer"
                      f"{', i.e. per UTF-8 byte' if self.tokenizer.name == 'bytes' else ''})",
            initial_val_loss=st.initial_val_loss,
            final_val_loss=final_val,
            final_train_loss=final_train,
            final_val_bpb=final_val / math.log(2) / bpt,
            final_val_loss_se=last_eval.se,
            per_position_loss=last_eval.per_position,
            ood_data=self.ood_name,
            ood_val_loss=ood_loss,
            noise_scale=st.curve[-1].get("noise_scale"),
            tokens=tokens,
            steps=self.steps,
            tokens_per_step=cfg.tokens_per_step,
            lr=self.peak_lr,
            params_total=self.counts.total,
            params_nonembedding=self.counts.nonembedding,
            params_embedding=self.counts.embedding,
            params_with_head=self.counts.with_head,
            flops=self.fpt * tokens,
            flops_convention=cfg.flops_convention,
            flops_by_convention={c: flops_per_token(self.shape, c) * tokens
                                 for c in FLOP_CONVENTIONS},
            shape=self.shape.to_dict(),
            data=self.data.manifest["corpus"],
            epochs=self._epochs(tokens),
            entropy_rate=self.data.manifest["corpus"].get("entropy_rate"),
            ood=self.ood.manifest["corpus"] if self.ood is not None else None,
            tokenizer=self.tokenizer.name,
            vocab_size=self.tokenizer.vocab_size,
            bytes_per_token=bpt,
            tokens_per_second=tps,
            tokens_per_cpu_second=tpcs,
            mfu=mfu,
            peak_flops=peak,
            peak_flops_source=peak_src,
            wall_time_s=st.clock.elapsed(),
            train_time_s=st.clock.train_time_s,
            device=str(self.device),
            device_name=device_name(self.device),
            precision=self.precision,
            threads=self.threads,
            torch_version=torch.__version__,
            curve_path=str(out / ckpt.CURVE),
            curve=st.curve,
            checkpoint_path=str(ckpt_path) if ckpt_path else None,
            resumed_from_step=self.resumed_from,
        )
        ckpt.write_json(out / ckpt.RESULT, result.model_dump(mode="json"))
        return result
