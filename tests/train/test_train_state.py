"""The trainer's clock and run state: timing arithmetic on a scripted clock, the checkpoint
round trip of :class:`RunState`, and a checkpoint written before the state became a dataclass
(``tests/fixtures/train_checkpoint_v1``) resuming to the run an uninterrupted trainer makes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from scalinglab.train import TrainConfig, train
from scalinglab.train import checkpoint as ckpt
from scalinglab.train import clock as clock_module
from scalinglab.train.checkpoint import RunState
from scalinglab.train.clock import Clock

#: written by the trainer at commit 9c62ef6def7f377c27f099af184a0e4d3132da8e (before the clock
#: and RunState): a run of its config.json interrupted by SIGINT right after its step-5
#: checkpoint (torch 2.13.0 CPU build, one thread)
OLD_RUN = Path(__file__).parent.parent / "fixtures" / "train_checkpoint_v1"


class _Time:
    """A scripted ``time`` module: wall and CPU readings move only when told."""

    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 10.0

    def perf_counter(self) -> float:
        return self.wall

    def process_time(self) -> float:
        return self.cpu

    def tick(self, wall: float, cpu: float = 0.0) -> None:
        self.wall += wall
        self.cpu += cpu


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> _Time:
    t = _Time()
    monkeypatch.setattr(clock_module, "time", t)
    return t


def test_clock_times_steps_apart_from_the_first_and_from_evaluations(fake_time: _Time) -> None:
    c = Clock()
    syncs: list[int] = []
    c.sync = lambda: syncs.append(1)
    fake_time.tick(5.0)                # data preparation: wall time, not training
    c.start_training()
    fake_time.tick(3.0, 3.0)           # the first step (allocation): timed apart
    c.first_step_done()
    fake_time.tick(2.0, 4.0)           # 4 steady steps
    c.steps_done()
    fake_time.tick(7.0, 7.0)           # an evaluation: not training time
    c.mark()
    fake_time.tick(1.0, 2.0)           # 2 more steady steps
    c.steps_done()
    assert len(syncs) == 3             # the device is waited for before every reading
    assert c.train_time_s == pytest.approx(3.0 + 2.0 + 1.0)
    assert (c.first_steps, c.first_steps_time_s) == (1, pytest.approx(3.0))
    assert c.steady_cpu_time_s == pytest.approx(4.0 + 2.0)
    assert c.elapsed() == pytest.approx(5 + 3 + 2 + 7 + 1)
    tps, tpcs = c.rates(tokens=7 * 100, tokens_per_step=100)  # 6 steady steps of 100 tokens
    assert tps == pytest.approx(600 / 3.0) and tpcs == pytest.approx(600 / 6.0)
    c.mark()                           # (the loop marks again after every reading)
    fake_time.tick(0.5)                # a step in progress counts towards the live rate
    assert c.session_train_time() == pytest.approx(6.5)


def test_clock_continues_across_sessions(fake_time: _Time) -> None:
    first = Clock()
    first.start_training()
    fake_time.tick(4.0, 4.0)
    first.first_step_done()
    fake_time.tick(6.0, 6.0)
    first.steps_done()
    totals = first.totals()
    assert totals == {"elapsed_s": pytest.approx(10.0), "train_time_s": pytest.approx(10.0),
                      "first_steps": 1, "first_steps_time_s": pytest.approx(4.0),
                      "steady_cpu_time_s": pytest.approx(6.0)}
    fake_time.tick(50.0)               # the process is gone; a new session starts later
    second = Clock()
    fake_time.tick(1.0)
    second.load(totals)
    second.start_training()
    fake_time.tick(2.0, 2.0)
    second.first_step_done()                   # (it marks again)
    assert second.elapsed() == pytest.approx(10.0 + 1.0 + 2.0)  # not the 50 s in between
    assert second.first_steps == 2 and second.train_time_s == pytest.approx(12.0)
    assert second.session_train_time() == pytest.approx(2.0)
    # no steady step timed: the rate falls back to all steps, the CPU rate is unknown
    assert Clock().rates(tokens=100, tokens_per_step=100) == (0.0, None)


def test_run_state_round_trip() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    clock = Clock(elapsed_s=12.5, train_time_s=8.0, first_steps=2, first_steps_time_s=1.5,
                  steady_cpu_time_s=11.0)
    state = RunState(curve=[{"step": 0, "val_loss": 5.5}], loss_sum=3.25, loss_count=7,
                     initial_val_loss=5.5, clock=clock)
    data = ckpt.make_checkpoint({"seed": 0}, 9, model, opt, torch.device("cpu"), state)
    assert set(data) == set(ckpt.REQUIRED_KEYS)
    model2 = torch.nn.Linear(3, 2)
    opt2 = torch.optim.AdamW(model2.parameters(), lr=1e-3)
    back = RunState()
    assert ckpt.restore_checkpoint(data, model2, opt2, torch.device("cpu"), back) == 9
    assert back.curve == state.curve and back.curve is not state.curve
    assert (back.loss_sum, back.loss_count, back.initial_val_loss) == (3.25, 7, 5.5)
    assert back.clock.totals() == pytest.approx(clock.totals(), abs=0.5)
    assert torch.equal(model2.weight, model.weight)
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


def test_a_checkpoint_from_before_the_run_state_resumes(tmp_path: Path) -> None:
    """Same entries as before (format 1), and resuming it gives the run the trainer makes
    without interruption (same machine type, one thread)."""
    old = torch.load(OLD_RUN / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert old["format"] == ckpt.FORMAT == 1 and old["step"] == 5
    assert set(ckpt.REQUIRED_KEYS) <= set(old)
    cfg = TrainConfig.model_validate(json.loads((OLD_RUN / "config.json").read_text()))
    run = tmp_path / "old"
    shutil.copytree(OLD_RUN, run)
    resumed = train(cfg, run, resume=True, progress=False)
    whole = train(cfg, tmp_path / "whole", progress=False)
    assert resumed.resumed_from_step == 5
    assert [p.step for p in resumed.curve] == [p.step for p in whole.curve]
    # the first 5 steps were taken by the older code: equal to float rounding across torch
    # builds (a lost optimiser or RNG state moves the losses by 1e-3 and more)
    assert [p.val_loss for p in resumed.curve] == pytest.approx(
        [p.val_loss for p in whole.curve], rel=1e-5)
    assert resumed.final_train_loss == pytest.approx(whole.final_train_loss, rel=1e-5)
    new = torch.load(Path(resumed.checkpoint_path or ""), map_location="cpu",
                     weights_only=True)
    assert set(new) == set(old) - {"tokens_per_step"}  # the same layout, less one unused entry
