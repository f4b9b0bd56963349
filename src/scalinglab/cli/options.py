"""The options every command shares, parsed in one place.

* ``--json [PATH|-]`` (:data:`JsonOpt`): write the command's result as JSON to ``PATH``; ``-``
  (or ``--json`` with no value) writes it to stdout, and the human-readable output then goes
  to stderr so the JSON can be piped on (:func:`start_json`, :func:`emit_json`).
* ``--compute C[,C...]`` (:func:`parse_compute`): budgets in FLOPs, comma-separated and/or
  repeated, on every command that takes budgets.
* ``--confidence`` (:data:`ConfidenceOpt`, :func:`check_confidence`): the interval level, a
  number in (0, 1), on every command with intervals.
* ``--bootstrap`` (:data:`BootstrapOpt`): bootstrap resamples; commands that print a quick
  result default to :data:`BOOTSTRAP_QUICK` (none), commands that write a report with
  intervals to :data:`BOOTSTRAP_REPORT`; help states the default.

Old spellings keep working as hidden aliases (:data:`ALIASES`: ``plan --level`` is
``--confidence``, ``fit --at-compute`` is ``--compute``); :func:`normalize_args` rewrites them,
and a bare ``--json``, before the command line is parsed.

:class:`Command` maps a library :class:`~scalinglab.errors.ParameterError` (which names a
Python parameter) onto the command's flag for that parameter (:data:`PARAMETER_OPTIONS` where
the names differ), so the user reads ``option --laws: unknown law 'kaplan'; did you mean
'kaplan-nd'...``. It also converts plain option values (str, int, float, bool, Path) itself
(:func:`use_plain_coercion`) instead of through typer's pydantic adapters, which would cost
every command a pydantic import.

This module imports only typer, the console and the standard library: ``scalinglab --help``
stays quick.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import typer
from typer.core import TyperCommand, TyperGroup

from scalinglab.console import note, reset, results_to_stderr
from scalinglab.errors import OptionError, ParameterError

# ============================================================================ shared options

#: ``--json [PATH|-]``: every command that prints a result takes it
JsonOpt = Annotated[str | None, typer.Option(
    "--json", metavar="[PATH|-]",
    help="also write the result as JSON to PATH; '-' (or no value): JSON alone on stdout, "
         "the tables on stderr")]

#: ``--confidence``: the interval level of every command with intervals
ConfidenceOpt = Annotated[float, typer.Option(
    "--confidence", help="interval level, in (0, 1)")]

#: default ``--bootstrap`` of commands that print a quick result (fit, isoflop): no resampling
BOOTSTRAP_QUICK = 0
#: default ``--bootstrap`` of commands that write a report with intervals (report, demo)
BOOTSTRAP_REPORT = 200

#: ``--bootstrap``: resamples for the intervals
BootstrapOpt = Annotated[int, typer.Option(
    "--bootstrap", min=0, help="bootstrap resamples for the intervals (0: no intervals)")]

#: ``--compute``: budgets in FLOPs
ComputeOpt = Annotated[list[str] | None, typer.Option(
    "--compute", metavar="C[,C...]",
    help="budget(s) in FLOPs (C = 6ND), comma-separated or repeated")]

#: old spellings, per command: alias -> the option it now is (hidden; kept for scripts)
ALIASES: dict[str, dict[str, str]] = {
    "plan": {"--level": "--confidence"},
    "fit": {"--at-compute": "--compute"},
}

#: library parameter -> the command's own parameter name, where they differ (per command;
#: "*" applies to every command)
PARAMETER_OPTIONS: dict[str, dict[str, str]] = {
    "*": {"n_jobs": "jobs", "columns": "column", "fixed": "fix", "at_compute": "compute",
          "level": "confidence", "convention": "flops_convention", "name": "data",
          "peak_flops": "peak_tflops", "price_per_hour": "price", "n_params": "target_params",
          "pl": "params", "figures_dir": "figures"},
    "compare": {"law": "laws", "names": "laws"},
    "plan": {"fit": "fit_json", "path": "fit_json", "target": "target_score"},
    "count": {"path": "hf_config"},
    "shape": {"aspect_range": "aspect_max"},
    "import": {"experiments": "experiment", "tags": "tag", "filter": "filter_",
               "constants": "constant", "items": "mapping", "filter_string": "filter_",
               "filters": "filter_"},
    "run": {"target": "log_to"},
    "export": {"target": "to"},
}


# ============================================================================ parsing


def parse_compute(values: Iterable[str | float] | None, option: str = "--compute"
                  ) -> list[float]:
    """``["1e21,1e22", "3e23"]`` -> ``[1e21, 1e22, 3e23]`` (commas and/or repeats), each a
    positive finite number; an :class:`OptionError` naming ``option`` otherwise."""
    out: list[float] = []
    for item in values or []:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            try:
                v = float(part)
            except ValueError:
                raise OptionError(option, f"not a number: {part!r}") from None
            if not math.isfinite(v) or v <= 0:
                raise OptionError(option, f"must be a positive number, got {part}")
            out.append(v)
    if values is not None and list(values) and not out:
        raise OptionError(option, "no budget given")
    return out


def check_confidence(value: float | None, option: str = "--confidence") -> None:
    """An :class:`OptionError` naming ``option`` unless ``value`` is None or in (0, 1)."""
    if value is not None and not (math.isfinite(value) and 0 < value < 1):
        raise OptionError(option, f"interval level must be between 0 and 1, got {value}")


def check_names(value: str, choices: Sequence[str], option: str, kind: str) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]``, each one of ``choices``; an unknown one is an
    :class:`OptionError` naming ``option`` that suggests the nearest name."""
    from scalinglab.errors import unknown

    names = [s.strip() for s in value.split(",") if s.strip()]
    if not names:
        raise OptionError(option, f"give at least one {kind}")
    for n in names:
        if n not in choices:
            raise OptionError(option, unknown(kind, n, choices))
    return names


def check_choice(value: str | None, choices: Sequence[str], option: str, kind: str) -> None:
    """An :class:`OptionError` naming ``option`` (with the nearest name) unless ``value`` is
    None or one of ``choices``."""
    from scalinglab.errors import unknown

    if value is not None and value not in choices:
        raise OptionError(option, unknown(kind, value, choices))


def normalize_args(args: Sequence[str]) -> list[str]:
    """The command line with :data:`ALIASES` spelled the new way and a bare ``--json`` (last,
    or followed by another option) given the value ``-``."""
    out = list(args)
    command = next((a for a in out if not a.startswith("-")), None)
    aliases = ALIASES.get(command or "", {})
    for i, arg in enumerate(out):
        for old, new in aliases.items():
            if arg == old:
                out[i] = new
            elif arg.startswith(old + "="):
                out[i] = new + arg[len(old):]
    fixed: list[str] = []
    for i, arg in enumerate(out):
        fixed.append(arg)
        if arg == "--json":
            nxt = out[i + 1] if i + 1 < len(out) else None
            if nxt is None or (nxt.startswith("-") and nxt != "-"):
                fixed.append("-")
    return fixed


# ============================================================================ JSON output


def start_json(dest: str | None) -> None:
    """Call first in a command taking ``--json``: with ``-``, the human-readable output goes
    to stderr, leaving stdout to the JSON document."""
    if dest == "-":
        results_to_stderr()


def check_json_dest(dest: str | None, option: str = "--json") -> None:
    """Fail now, before any work, if ``dest`` (a path, not ``-``) cannot be written."""
    if dest is not None and dest != "-":
        from scalinglab.jsonio import check_writable

        check_writable(dest, option)


def emit_json(dest: str | None, doc: Any, option: str = "--json") -> None:
    """Write ``doc`` as JSON to ``dest``: stdout for ``-``, else the file (atomically, and
    ``wrote PATH`` on stderr)."""
    if dest is None:
        return
    from scalinglab.jsonio import to_jsonable, write_json

    # NaN -> null, NumPy -> Python; anything else JSON cannot hold (a timestamp) as its text
    text = json.dumps(to_jsonable(doc), indent=2, default=str)
    if dest == "-":
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return
    write_json(dest, json.loads(text), option=option)
    note(f"wrote {dest}")


# ============================================================================ click classes


def option_for(ctx: Any, parameter: str) -> str | None:
    """The flag of the option (or the metavar of the argument) of ``ctx``'s command that feeds
    the library parameter ``parameter``, if the command has one."""
    command = ctx.command.name or ""
    names = [PARAMETER_OPTIONS.get(command, {}).get(parameter),
             PARAMETER_OPTIONS["*"].get(parameter), parameter]
    by_name = {p.name: p for p in ctx.command.params}
    for name in names:
        p = by_name.get(name) if name else None
        if p is None:
            continue
        opts = [o for o in getattr(p, "opts", []) if o.startswith("--")]
        if opts and getattr(p, "param_type_name", "option") == "option":
            return opts[0]
        return (p.metavar or p.name or parameter).upper()
    return None


def as_option_error(ctx: Any, exc: ParameterError) -> OptionError:
    """``exc`` in the command's terms: the flag that feeds the parameter it names, with every
    other parameter its message names in the ``name=`` form also turned into its flag
    (``unique_tokens=`` -> ``--unique-tokens``), or ``exc`` itself if no option feeds it."""
    flag = option_for(ctx, exc.parameter)
    if flag is None:
        return exc

    def to_flag(m: re.Match[str]) -> str:  # another parameter named ``name=`` in the text
        other = option_for(ctx, m.group(1))
        if not (other and other.startswith("--")):
            return m.group(0)
        return f"{other} " if m.group(0).endswith(" ") else other

    return OptionError(flag, _OTHER_PARAMETER.sub(to_flag, exc.detail))


#: how a library message names another parameter: ``unique_tokens=`` (``name=`` form).
_OTHER_PARAMETER = re.compile(r"\b([a-z][a-z0-9_]*)= ?")


# ============================================================================ plain coercion
# typer (>= 0.2x) converts every value through a pydantic TypeAdapter: importing pydantic and
# building the adapters is a fifth of a command's start-up. Our options are plain str, int,
# float, bool and Path (or lists of them), which need no pydantic: they get the converter
# below. Any other annotation, or a typer without this hook, keeps typer's own.
try:
    from typer._coercion import RuntimeParam as _RuntimeParam
except ImportError:  # pragma: no cover - another typer
    _RuntimeParam = None

_PLAIN: tuple[type, ...] = (bool, int, float, str, Path)

if _RuntimeParam is not None:

    @dataclass(frozen=True)
    class _PlainParam(_RuntimeParam):  # type: ignore[misc, valid-type]
        """Converts a command-line string to a plain type, checking typer's min/max."""

        kind: type = str

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if isinstance(value, (list, tuple)):
                return [self._one(v, param, ctx) for v in value]
            return self._one(value, param, ctx)

        def _one(self, value: Any, param: Any, ctx: Any) -> Any:
            kind = self.kind
            if kind is bool:
                return bool(value)
            try:
                out = kind(value) if not isinstance(value, kind) else value
            except (TypeError, ValueError):
                what = {int: "an integer", float: "a number"}.get(kind, kind.__name__)
                raise typer.BadParameter(f"{value!r} is not {what}.", ctx=ctx,
                                         param=param) from None
            lo, hi = self.parameter_info.min, self.parameter_info.max
            if (lo is not None and out < lo) or (hi is not None and out > hi):
                rng = " and ".join(s for s in (f">= {lo}" if lo is not None else "",
                                               f"<= {hi}" if hi is not None else "") if s)
                raise typer.BadParameter(f"{out} is not {rng}.", ctx=ctx, param=param)
            return out


def _plain_kind(annotation: Any) -> type | None:
    if get_origin(annotation) is list:
        args = get_args(annotation)
        annotation = args[0] if len(args) == 1 else None
    return annotation if annotation in _PLAIN else None


def use_plain_coercion(params: Iterable[Any]) -> None:
    """Give every plain-typed parameter of ``params`` the pydantic-free converter."""
    if _RuntimeParam is None:
        return
    for p in params:
        desc = getattr(p, "type_descriptor", None)
        if desc is None or getattr(p, "_runtime_param", True) is not None:
            continue
        kind = _plain_kind(desc.annotation)
        if kind is None or desc.file_annotation is not None or desc.is_choice:
            continue
        p._runtime_param = _PlainParam(parameter_info=desc.parameter_info,
                                       annotation=desc.annotation, kind=kind)


class Command(TyperCommand):
    """A command whose library errors are reported against its own flags, and whose plain
    options are converted without pydantic (:func:`use_plain_coercion`)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        use_plain_coercion(self.get_params(ctx))
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ParameterError as exc:
            raise as_option_error(ctx, exc) from None


class Group(TyperGroup):
    """The ``scalinglab`` group: rewrites old spellings and a bare ``--json``
    (:func:`normalize_args`) and resets the consoles before every command."""

    command_class = Command

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        reset()
        use_plain_coercion(self.get_params(ctx))
        return super().parse_args(ctx, normalize_args(args))

