"""Issue 14, the command line: every example of "Slow start", "Truncated numbers when output is
piped", "Options checked too late", "Inconsistent options across commands", "Warnings on
stdout, or not at all", "Error messages that name the wrong thing" (library errors in Python
terms included), "Misleading help", ``--version`` and shell completion, each as the corrected
behaviour."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglab
from scalinglab.accounting import ModelShape, flops_per_token
from scalinglab.cli import app
from scalinglab.cli.options import normalize_args, parse_compute
from scalinglab.console import Table, WideConsole
from scalinglab.errors import InputError, OptionError, ParameterError

HEAVY = ("pandas", "scipy", "matplotlib", "torch", "numpy", "pyarrow")


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, check=True, timeout=120)


def _scalinglab(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh process, its stdout a pipe (not a terminal), as ``... | cat``."""
    return subprocess.run([sys.executable, "-m", "scalinglab", *argv], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=300)


def _flat(text: str) -> str:
    return " ".join(text.split())


# ============================================================================ slow start
def test_import_cli_and_help_load_no_heavy_module() -> None:
    """``import scalinglab.cli`` (and so ``scalinglab --help``) pulled in scipy.stats and pandas
    for every command; now neither it nor rendering the help imports NumPy, pandas, SciPy,
    matplotlib or torch."""
    out = _python("import sys\nfrom scalinglab.cli import main\n"
                  "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
                  "loaded = {m.split('.')[0] for m in sys.modules}\n"
                  f"print('LOADED', sorted(loaded & {set(HEAVY)!r}))")
    assert out.stdout.strip().splitlines()[-1] == "LOADED []"


def test_fit_command_loads_neither_scipy_stats_nor_matplotlib() -> None:
    """``fit`` imports what the fit needs, in its body: not scipy.stats (half a second of
    start-up), nor the report's matplotlib, nor pydantic (typer's value conversion: our plain
    options are converted without it)."""
    out = _python("import sys\nfrom scalinglab.cli import main\n"
                  "try:\n    main(['fit', 'example:chinchilla-240'])\nexcept SystemExit:\n"
                  "    pass\nsys.stdout = sys.__stdout__\n"
                  "print('LOADED', sorted(m for m in ('scipy.stats', 'scipy.interpolate', "
                  "'matplotlib', 'torch', 'pydantic') if m in sys.modules))")
    assert out.stdout.strip().splitlines()[-1] == "LOADED []"


def test_plan_command_loads_no_pandas_and_no_fit_package() -> None:
    """A plan from published constants needs the planner's SciPy, not the fit package and
    its pandas (a module-level FitResult import once doubled ``plan``'s start-up)."""
    out = _python("import sys\nfrom scalinglab.cli import main\n"
                  "try:\n    main(['plan', '--compute', '1e21'])\nexcept SystemExit:\n"
                  "    pass\nsys.stdout = sys.__stdout__\n"
                  "print('LOADED', sorted(m for m in ('pandas', 'scalinglab.fit', 'scipy.stats', "
                  "'matplotlib', 'torch') if m in sys.modules))")
    assert out.stdout.strip().splitlines()[-1] == "LOADED []"


def test_plain_option_conversion_checks_types_and_ranges(cli) -> None:
    """The pydantic-free conversion of plain options still rejects a bad value, naming it."""
    code, _, err = cli("fit", "example:chinchilla-240", "--bootstrap", "-1")
    assert code == 2 and "Invalid value for '--bootstrap': -1 is not >= 0." in err
    code, _, err = cli("fit", "example:chinchilla-240", "--seed", "x")
    assert code == 2 and "Invalid value for '--seed': 'x' is not an integer." in err
    code, _, err = cli("plan", "--compute", "1e21", "--mfu", "lots")
    assert code == 2 and "Invalid value for '--mfu': 'lots' is not a number." in err


def test_startup_benchmark_reports_both_targets() -> None:
    """The benchmark's table states each target and whether it was met (numbers made up)."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    try:
        import cli_startup
    finally:
        sys.path.pop(0)
    doc = {"commands": {"python -c pass": {"median": 0.02, "min": 0.02},
                        "--help": {"median": 0.25, "min": 0.2},
                        "fit example:chinchilla-240": {"median": 0.9, "min": 0.8}},
           "fit_itself": {"median": 0.1, "min": 0.1}, "repeats": 3, "bytecode_cache": True,
           "load_average": (0.5, 0.5, 0.5), "cpus": 2, "python": "3.11"}
    assert cli_startup.report(doc) is False  # the fit misses 0.6 s
    doc["commands"]["fit example:chinchilla-240"]["median"] = 0.5  # type: ignore[index]
    assert cli_startup.report(doc) is True
    assert set(cli_startup.TARGETS) == {"--help", "fit example:chinchilla-240"}


# ============================================================================ piped output
def test_piped_plan_table_keeps_every_digit() -> None:
    """``plan --compute 1e21,1e22 | cat`` showed ``1.8242…`` and ``C / 5.76e+…``: off a
    terminal the table takes its natural width whatever $COLUMNS says."""
    res = _scalinglab("plan", "--compute", "1e21,1e22,1e23", COLUMNS="60")
    assert res.returncode == 0, res.stderr
    assert "…" not in res.stdout
    assert "C / 5.76e+23" in res.stdout
    assert all(len(line) > 60 for line in res.stdout.splitlines() if "│" in line)


def test_piped_compare_laws_and_shape_are_not_cut(cli) -> None:
    """``compare`` showed ``kapla…``, ``shape --params 1.3e8`` ``131,291,5…``, ``laws`` cut its
    formulas: in-process (not a terminal) nothing is cut, however narrow $COLUMNS is."""
    code, out, err = cli("compare", "example:chinchilla-240")
    assert code == 0, err
    assert "kaplan-nd" in out and "…" not in out
    code, out, _ = cli("shape", "--params", "1.3e8", "--top", "3")
    assert "…" not in out
    counts = [tok for tok in out.split() if tok.count(",") == 2 and tok.startswith("1")]
    assert counts and all(len(t) == len("131,291,520") for t in counts), counts
    code, out, _ = cli("laws")
    assert "…" not in out
    formula = scalinglab.get_law("data-constrained").formula
    assert formula in out  # on one line, whole


def test_tables_fold_instead_of_cutting_on_a_narrow_terminal() -> None:
    """On a terminal too narrow for a table, a number folds onto the next line instead of being
    cut with an ellipsis."""
    con = WideConsole(width=24, force_terminal=True, record=True, color_system=None)
    t = Table()
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_row("a long quantity name", "1.8242376e+10")
    con.print(t)
    text = con.export_text()
    assert "…" not in text
    assert "1.824237" in text and "6e+10" in text  # the cell folded onto a second line


# ============================================================================ options early
def test_plan_bad_gpu_fails_before_printing_a_plan(cli) -> None:
    """``plan ... --gpu h1000`` printed the whole plan, then failed; now nothing is printed,
    and the error suggests the nearest accelerator."""
    code, out, err = cli("plan", "--compute", "1e21", "--gpu", "h1000")
    assert code == 2
    assert out == ""
    assert _flat(err).startswith("error: option --gpu: unknown accelerator 'h1000'; did you "
                                 "mean 'h100'")


def test_fit_options_are_checked_before_the_data_are_read(cli, tmp_path) -> None:
    """A bad option is reported even when the data file does not exist (checked first)."""
    missing = str(tmp_path / "nope.csv")
    for argv, option in ((["--confidence", "1.5"], "--confidence"),
                         (["--loss", "hubr"], "--loss"),
                         (["--compute", "1e21,x"], "--compute"),
                         (["--json", str(tmp_path)], "--json")):
        code, _, err = cli("fit", missing, *argv)
        assert code == 2 and _flat(err).startswith(f"error: option {option}:"), err
    code, _, err = cli("fit", missing, "--loss", "hubr")
    assert "did you mean 'huber'" in err


# ============================================================================ consistency
def test_json_dash_means_stdout_on_fit_and_writes_no_file(cli, tmp_path, monkeypatch) -> None:
    """``fit --json -`` wrote a file named ``-``; now ``-`` (or a bare ``--json``) is the JSON
    alone on stdout, with the tables and warnings on stderr."""
    monkeypatch.chdir(tmp_path)
    for argv in (["--json", "-"], ["--json"], ["--json", "--seed", "1"]):
        code, out, err = cli("fit", "example:chinchilla-240", *argv)
        assert code == 0, err
        doc = json.loads(out)
        assert doc["law"] == "chinchilla" and set(doc["params"]) == {"E", "A", "B", "alpha",
                                                                      "beta"}
        assert "estimate" in err  # the table went to stderr
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("argv", [
    ["laws"],
    ["plan", "--compute", "1e21"],
    ["plan", "--params", "kaplan", "--compute", "1e21,1e22"],
    ["count", "--n-layer", "12", "--d-model", "768", "--n-head", "12"],
    ["shape", "--params", "1.3e8", "--top", "2"],
    ["isoflop", "example:chinchilla-240"],
    ["compare", "example:chinchilla-240", "--laws", "chinchilla"],
    ["data", "list"],
])
def test_json_dash_means_stdout_everywhere(cli, argv) -> None:
    """Every command that prints a result takes ``--json [PATH|-]``; ``-`` is stdout."""
    code, out, err = cli(*argv, "--json", "-")
    assert code == 0, err
    json.loads(out)  # stdout is the JSON document and nothing else


def test_json_path_writes_the_file_and_says_so_on_stderr(cli, tmp_path) -> None:
    dest = tmp_path / "plan.json"
    code, out, err = cli("plan", "--compute", "1e21", "--json", str(dest))
    assert code == 0
    assert json.loads(dest.read_text())["N_opt"] > 0
    assert "compute-optimal plan" in out and f"wrote {dest}" in _flat(err)


def test_one_spelling_for_confidence_and_compute(cli) -> None:
    """``--level`` was ``--confidence`` elsewhere and ``--at-compute`` was ``--compute``: the
    new spellings work everywhere; the old ones still work, hidden from the help."""
    _, with_new, _ = cli("plan", "--params", "epoch", "--compute", "1e22", "--confidence", "0.9",
                         "--json", "-")
    _, with_old, _ = cli("plan", "--params", "epoch", "--compute", "1e22", "--level", "0.9",
                         "--json", "-")
    assert json.loads(with_new) == json.loads(with_old)
    code, out, err = cli("fit", "example:chinchilla-240", "--compute", "5.76e23,1e24",
                         "--json", "-")
    assert code == 0, err
    by_new = json.loads(out)
    code, out, err = cli("fit", "example:chinchilla-240", "--at-compute", "5.76e23",
                         "--at-compute", "1e24", "--json", "-")
    assert code == 0, err
    assert json.loads(out)["derived"] == by_new["derived"]
    assert {"N_opt@5.76e+23", "N_opt@1e+24"} <= set(by_new["derived"])
    for command in ("plan", "fit"):
        _, help_text, _ = cli(command, "--help")
        assert "--confidence" in help_text and "--compute" in help_text
        assert "--level" not in help_text and "--at-compute" not in help_text
    for command in ("isoflop", "report"):
        assert "--confidence" in cli(command, "--help")[1]


def test_report_accepts_a_comma_separated_compute_list(cli, tmp_path) -> None:
    """``report --compute 1e21,1e22`` was rejected though ``plan`` accepts that form."""
    out = tmp_path / "r.html"
    code, stdout, err = cli("report", "example:chinchilla-240", "--out", str(out),
                            "--bootstrap", "0", "--no-backtest", "--approach2", "no",
                            "--compute", "1e21,1e22", "--json", "-")
    assert code == 0, err
    doc = json.loads(stdout)
    assert out.exists() and doc["report"] == str(out)
    assert doc["plan"]["compute"] in (1e21, 1e22)


def test_compute_lists_parse_the_same_everywhere() -> None:
    assert parse_compute(["1e21,1e22", "3e23"]) == [1e21, 1e22, 3e23]
    assert parse_compute(None) == []
    for bad in (["x"], ["-1"], ["nan"], [","]):
        with pytest.raises(OptionError, match="--compute"):
            parse_compute(bad)


@pytest.mark.parametrize(("command", "default"), [
    ("fit", 0), ("isoflop", 0), ("report", 200), ("demo", 200)])
def test_bootstrap_default_is_stated_in_help(cli, command, default) -> None:
    """``--bootstrap`` defaulted to 0, 100 or 200 unannounced: now quick commands default to 0
    and report-writing ones to 200, and every help says which."""
    _, out, _ = cli(command, "--help")
    text = _flat(out)
    start = text.index("--bootstrap ")
    assert f"[default: {default}" in text[start:start + 200]  # "[default: 200; x>=0]"


def test_old_spellings_and_bare_json_are_rewritten() -> None:
    assert normalize_args(["plan", "--level=0.9", "--json"]) == [
        "plan", "--confidence=0.9", "--json", "-"]
    assert normalize_args(["fit", "d.csv", "--at-compute", "1e21", "--json", "--seed", "1"]) == [
        "fit", "d.csv", "--compute", "1e21", "--json", "-", "--seed", "1"]
    assert normalize_args(["runs", "show", "ab", "--json", "x.json"])[-1] == "x.json"
    # an alias of one command is not rewritten in another
    assert normalize_args(["report", "--level", "1"])[1] == "--level"


# ============================================================================ warnings
def test_fit_warnings_go_to_stderr(cli) -> None:
    code, out, err = cli("fit", "example:chinchilla-240")
    assert code == 0
    assert "warning:" not in out
    assert "warning: misfit" in _flat(err)


def _collapsed(path: Path) -> None:
    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(np.log(1e4), np.log(1e5), 30))
    D = np.exp(rng.uniform(np.log(1e6), np.log(1e7), 30))
    pd.DataFrame({"N": N, "D": D, "C": 6 * N * D,
                  "loss": 30 * N**-0.3 + 80 * D**-0.3}).to_csv(path, index=False)


def test_report_prints_the_fits_warnings_on_stderr(cli, tmp_path) -> None:
    """``report`` did not print warnings: a collapsed E showed only inside the HTML."""
    data = tmp_path / "noE.csv"
    _collapsed(data)
    code, out, err = cli("report", str(data), "--out", str(tmp_path / "r.html"),
                         "--bootstrap", "0", "--no-backtest", "--approach2", "no")
    assert code == 0, err
    assert "warning: collapsed: parameter E" in _flat(err)
    assert "warning" not in out


# ============================================================================ error messages
def test_compare_names_laws_and_suggests_kaplan_nd(cli) -> None:
    """``compare --laws chinchilla,kaplan`` blamed ``--law`` and suggested nothing."""
    code, out, err = cli("compare", "example:chinchilla-240", "--laws", "chinchilla,kaplan")
    assert code == 2 and out == ""
    assert _flat(err).startswith("error: option --laws: unknown law 'kaplan'; did you mean "
                                 "'kaplan-nd'")


def test_unknown_law_in_fit_suggests_the_nearest(cli) -> None:
    code, _, err = cli("fit", "example:chinchilla-240", "--law", "chinchila")
    assert code == 2 and "option --law: unknown law 'chinchila'; did you mean 'chinchilla'?" \
        in _flat(err)
    code, _, err = cli("fit", "example:chinchila-240")
    assert code == 2 and "argument DATA: unknown data set 'chinchila-240'; did you mean " \
        "'chinchilla-240'" in _flat(err)


def test_a_published_parameter_set_implies_its_law(cli) -> None:
    """``plan --params kaplan`` needed ``--law kaplan-nd``."""
    code, out, err = cli("plan", "--params", "kaplan", "--compute", "1e21", "--json", "-")
    assert code == 0, err
    assert json.loads(out)["law"] == "kaplan-nd"
    assert scalinglab.plan_law(params="muennighoff").law.name == "data-constrained"
    code, _, err = cli("plan", "--law", "chinchilla", "--params", "kaplan", "--compute", "1e21")
    assert code == 2 and "option --params: published set 'kaplan' is for law 'kaplan-nd'" \
        in _flat(err)
    code, _, err = cli("plan", "--params", "hofman", "--compute", "1e21")
    assert code == 2 and "did you mean 'hoffmann'" in err


def test_library_errors_name_the_python_parameter() -> None:
    """``flops_per_token(shape, convention="Palm")`` said "option --convention"."""
    shape = ModelShape(n_layer=2, d_model=64, n_head=4)
    with pytest.raises(ParameterError) as exc:
        flops_per_token(shape, convention="Palm")
    msg = str(exc.value)
    assert msg.startswith("argument convention: unknown FLOP convention 'Palm'; did you mean "
                          "'palm'?")
    assert "--" not in msg and "option" not in msg
    assert isinstance(exc.value, OptionError)  # code catching the old class still does
    with pytest.raises(ParameterError, match=r"^argument law: unknown law 'kaplan'"):
        scalinglab.get_law("kaplan")
    with pytest.raises(ParameterError, match=r"^argument gpu: "):
        scalinglab.gpu_cost(1e21, "h1000")


def test_a_dataframe_is_not_called_a_file() -> None:
    """A DataFrame passed to ``sl.fit`` was called a file in its errors."""
    df = pd.DataFrame({"N": [1e6, 2e6, 4e6, 8e6, 1.6e7, 3.2e7], "D": [1e9] * 6,
                       "loss": [3.0, 2.9, "x", 2.7, 2.6, 2.5]})
    with pytest.raises(InputError) as exc:
        scalinglab.fit(df, "chinchilla")
    msg = str(exc.value)
    assert "file" not in msg
    assert msg.startswith("the DataFrame passed in, row 3, column 'loss': not a number")


def test_the_cli_maps_library_parameters_onto_its_flags(cli) -> None:
    """A library error raised inside a command names the command's flag: ``delta`` ->
    ``--delta``, a shape field -> its option, ``n_params`` -> ``--target-params``."""
    code, _, err = cli("fit", "example:chinchilla-240", "--delta", "-1")
    assert code == 2 and _flat(err).startswith("error: option --delta: must be > 0")
    code, _, err = cli("shape", "--params", "1e8", "--vocab", "0")
    assert code == 2 and _flat(err).startswith("error: option --vocab:")
    code, _, err = cli("count", "--n-layer", "2", "--d-model", "100", "--n-head", "3")
    assert code == 2 and _flat(err).startswith("error: option --d-model:")
    assert "argument" not in err


# ============================================================================ help, version
def _all_commands() -> list[list[str]]:
    from typer.main import get_command

    root = get_command(app)
    out = []
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        out += [[name, sub] for sub in subs] if subs else [[name]]
    return out


def test_no_help_shows_a_bool_placeholder(cli) -> None:
    """Every flag's help showed ``<bool>`` as if it took a value."""
    commands = _all_commands()
    assert ["count"] in commands and ["runs", "show"] in commands
    for argv in [[], *commands]:
        code, out, _ = cli(*argv, "--help")
        assert code == 0, argv
        assert "<bool>" not in out, argv
    _, out, _ = cli("count", "--help")
    assert "--tied / --untied" in out


def test_version(cli) -> None:
    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"scalinglab {scalinglab.__version__}"


def test_shell_completion(cli) -> None:
    """Completion is offered (``--install-completion``/``--show-completion``) and works: bash
    asks the program for the words that complete ``scalinglab pl``."""
    _, out, _ = cli("--help")
    assert "--install-completion" in out and "--show-completion" in out
    exe = Path(sys.executable).with_name("scalinglab")
    if not exe.exists():
        pytest.skip("the console script is not installed next to this interpreter")
    res = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "_SCALINGLAB_COMPLETE": "complete_bash",
                              "COMP_WORDS": "scalinglab pl", "COMP_CWORD": "1"})
    assert "plan" in res.stdout.split()


# ============================================================================ notebook names
def test_fit_has_its_real_signature_and_dir_lists_the_api() -> None:
    sig = inspect.signature(scalinglab.fit)
    assert list(sig.parameters)[:2] == ["data", "law"] and "bootstrap" in sig.parameters
    names = dir(scalinglab)
    for name in ("fit", "FitResult", "plan_compute", "plan_law", "get_law", "compare",
                 "isoflop", "ModelShape", "flops_per_token", "ParameterError", "__version__"):
        assert name in names
    assert "importlib" not in names and "_LAZY" not in names
    for name in names:
        obj = getattr(scalinglab, name)
        if callable(obj):
            assert inspect.getdoc(obj), name
