"""Mirror scalinglab runs into a tracker: ``sweep run --log-to`` and ``runs export --to``.

The run store stays the source of truth; a tracker gets a copy of each completed run:

* its config and labels as parameters (MLflow params / W&B config), the study as the MLflow
  experiment (or the W&B group);
* its learning curve point by point (``tokens``, ``train_loss``, ``val_loss``, ``lr``, ...
  at each ``step``), and its final metrics at the last step;
* ``scalinglab.*`` tags (MLflow) or config keys (W&B) that say how to read it back: its run
  id, and ``scalinglab.map.loss/N/D/C`` (the loss metric the study fits, the N convention,
  tokens, C = 6 N D), so that ``scalinglab import`` gives back the table ``runs export`` writes.

A tracker that fails (a server down) is reported once and the sweep goes on.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scalinglab.errors import argument_error
from scalinglab.importers.mapping import EXPORT_PREFIX, SIX_ND, require

_CURVE_SKIP = ("step",)


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) and not (
        isinstance(value, float) and not math.isfinite(value))


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def describe_run(run: Any, metrics: Mapping[str, Any], curve: Sequence[Mapping[str, Any]]
                 ) -> dict[str, Any]:
    """What a tracker gets of a run: params, tags, final metrics (with their step) and the
    curve as ``{metric: [(step, value), ...]}``."""
    labels = dict(run.labels or {})
    n_conv = labels.get("n_convention", "total")
    params: dict[str, Any] = {}
    for k, v in {**run.config, **labels}.items():
        if _scalar(v) and k not in ("tune_key",):
            params[str(k)] = v
    tags = {
        EXPORT_PREFIX + "run_id": run.run_id,
        EXPORT_PREFIX + "study": run.study,
        EXPORT_PREFIX + "map.loss": labels.get("loss_metric", "final_val_loss"),
        EXPORT_PREFIX + "map.loss_curve": "val_loss",
        EXPORT_PREFIX + "map.N": ("params_nonembedding" if n_conv == "nonembedding"
                                  else "params_total"),
        EXPORT_PREFIX + "map.D": "tokens",
        EXPORT_PREFIX + "map.C": SIX_ND,
    }
    final: dict[str, float] = {}
    for k, v in metrics.items():
        if k in ("config", "curve"):
            continue
        if isinstance(v, Mapping) and k == "flops_by_convention":
            for sub, x in v.items():
                fx = _finite(x)
                if fx is not None:
                    final["flops_" + re.sub(r"\W+", "_", str(sub)).strip("_")] = fx
            continue
        fx = _finite(v)
        if fx is not None:
            final[str(k)] = fx
    series: dict[str, list[tuple[int, float]]] = {}
    last_step = 0
    for point in curve:
        step = int(point.get("step") or 0)
        last_step = max(last_step, step)
        for k, v in point.items():
            fx = _finite(v)
            if k not in _CURVE_SKIP and fx is not None:
                series.setdefault(str(k), []).append((step, fx))
    final_step = int(_finite(metrics.get("steps")) or last_step)
    return {"params": params, "tags": tags, "final": final, "final_step": final_step,
            "curve": series}


class _Mirror:
    """The ``run_sweep(on_complete=...)`` hook shared by the trackers: log each completed run
    (``log``, per tracker) and, on the first failure, warn once and stop mirroring (a tracker
    failing must not stop the sweep; the run store has every run)."""

    failed: str | None = None
    #: how the warning names the mirror and what the user can do later
    what = "--log-to"
    later = ""

    def log(self, run: Any, metrics: Mapping[str, Any],
            curve: Sequence[Mapping[str, Any]]) -> Any:
        raise NotImplementedError

    def __call__(self, run: Any, metrics: Mapping[str, Any],
                 curve: Sequence[Mapping[str, Any]]) -> None:
        if self.failed is not None:
            return
        try:
            self.log(run, metrics, curve)
        except Exception as exc:  # a tracker failing must not stop the sweep
            self.failed = f"{type(exc).__name__}: {exc}"
            _warn(f"{self.what} failed, runs are no longer mirrored (the run store has them "
                  f"all{self.later}): {self.failed}")


class MlflowMirror(_Mirror):
    """Logs completed runs to an MLflow tracking URI, one experiment per study."""

    def __init__(self, uri: str | None = None, experiment: str | None = None) -> None:
        mlflow = require("mlflow", "mlflow")
        from scalinglab.importers.mlflow_source import tracking_uri

        self.uri = tracking_uri(uri) if uri else mlflow.get_tracking_uri()
        if self.uri.startswith("file:"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = mlflow.MlflowClient(tracking_uri=self.uri)
        self.what = f"--log-to mlflow ({self.uri})"
        self.later = "; `scalinglab runs export --to mlflow` later"
        self.experiment = experiment
        self._exp_ids: dict[str, str] = {}
        self.failed = None
        self.logged = 0

    def _experiment_id(self, name: str) -> str:
        if name not in self._exp_ids:
            exp = self.client.get_experiment_by_name(name)
            self._exp_ids[name] = (exp.experiment_id if exp is not None
                                   else self.client.create_experiment(name))
        return self._exp_ids[name]

    def has(self, exp_id: str, run_id: str) -> bool:
        found = self.client.search_runs(
            [exp_id], filter_string=f"tags.`{EXPORT_PREFIX}run_id` = '{run_id}'", max_results=1)
        return len(found) > 0

    def log(self, run: Any, metrics: Mapping[str, Any], curve: Sequence[Mapping[str, Any]],
            *, skip_existing: bool = False) -> bool:
        """Log one run (False when ``skip_existing`` and it is already there)."""
        from mlflow.entities import Metric, Param

        desc = describe_run(run, metrics, curve)
        exp_id = self._experiment_id(self.experiment or run.study)
        if skip_existing and self.has(exp_id, run.run_id):
            return False
        tags = {**desc["tags"], "mlflow.runName": run.run_id}
        mrun = self.client.create_run(exp_id, run_name=run.run_id, tags=tags)
        rid = mrun.info.run_id
        ts = int(1000 * (run.finished_at or time.time()))
        ms: list[Any] = []
        for key, pts in desc["curve"].items():
            ms.extend(Metric(key, v, ts, s) for s, v in pts)
        ms.extend(Metric(k, v, ts, desc["final_step"]) for k, v in desc["final"].items())
        params = [Param(k, str(v)[:6000]) for k, v in desc["params"].items()]
        for i in range(0, len(params), 100):
            self.client.log_batch(rid, params=params[i:i + 100])
        for i in range(0, len(ms), 1000):
            self.client.log_batch(rid, metrics=ms[i:i + 1000])
        self.client.set_terminated(rid, "FINISHED")
        self.logged += 1
        return True


class WandbMirror(_Mirror):
    """Logs completed runs to W&B (``WANDB_MODE=offline`` honoured), one run each."""

    def __init__(self, project: str | None = None, entity: str | None = None,
                 directory: str | None = None) -> None:
        self.wandb = require("wandb", "wandb")
        os.environ.setdefault("WANDB_SILENT", "true")
        os.environ.setdefault("WANDB_DISABLE_GIT", "true")
        os.environ.setdefault("WANDB_DISABLE_CODE", "true")
        self.project, self.entity, self.directory = project, entity, directory
        self.what = "--log-to wandb"
        self.failed = None
        self.logged = 0

    def log(self, run: Any, metrics: Mapping[str, Any],
            curve: Sequence[Mapping[str, Any]]) -> None:
        desc = describe_run(run, metrics, curve)
        config = {**desc["params"], "scalinglab": {k[len(EXPORT_PREFIX):]: v
                                                   for k, v in desc["tags"].items()}}
        wr = self.wandb.init(project=self.project or run.study, entity=self.entity,
                             name=run.run_id, group=run.study, config=config,
                             dir=self.directory, reinit="create_new",
                             settings=self.wandb.Settings(silent=True, console="off",
                                                          disable_git=True, save_code=False))
        try:
            by_step: dict[int, dict[str, float]] = {}
            for key, pts in desc["curve"].items():
                for s, v in pts:
                    by_step.setdefault(s, {})[key] = v
            by_step.setdefault(desc["final_step"], {}).update(desc["final"])
            for s in sorted(by_step):
                wr.log(by_step[s], step=s)
        finally:
            wr.finish()
        self.logged += 1


def _warn(message: str) -> None:
    from scalinglab.console import err_console

    err_console.print(f"[yellow]warning:[/] {message}", highlight=False, markup=True)


def mirror_for(target: str, option: str = "target") -> MlflowMirror | WandbMirror:
    """``mlflow``, ``mlflow:URI``, ``wandb`` or ``wandb:PROJECT`` (``wandb:ENTITY/PROJECT``)."""
    kind, _, rest = target.partition(":")
    if kind == "mlflow":
        return MlflowMirror(rest or None)
    if kind == "wandb":
        entity, _, project = rest.rpartition("/")
        return WandbMirror(project or None, entity or None)
    raise argument_error(option, f"use mlflow, mlflow:URI, wandb or wandb:PROJECT; got {target!r}")


def export_store(store: str | Path, target: str, study: str | None = None) -> tuple[int, int]:
    """Log the completed runs of a run store to ``target`` (as :func:`mirror_for`); runs
    already in the MLflow experiment (same ``scalinglab.run_id`` tag) are skipped. Returns
    ``(logged, skipped)``."""
    from scalinglab.store import RunStore

    mirror = mirror_for(target)
    logged = skipped = 0
    with RunStore(store, readonly=True) as rs:
        if study is not None:
            rs.study(study)
        for run in rs.runs(study=study, statuses=("completed",)):
            curve = rs.curve(run.run_id)
            if isinstance(mirror, MlflowMirror):
                if mirror.log(run, run.metrics or {}, curve, skip_existing=True):
                    logged += 1
                else:
                    skipped += 1
            else:
                mirror.log(run, run.metrics or {}, curve)
                logged += 1
    return logged, skipped
