"""Property tests of every loader of user input (issue 17): the CSV and JSON/JSONL observation
loaders, ``plan``'s numeric inputs, Hugging Face config.json files (``count --hf-config``) and
study specs. The property: any input gives a result or a clean error (:class:`InputError` or
:class:`OptionError`, exit status 2 on the CLI), never another exception and never a hang (each
example runs under a time limit, enforced with a timer signal).

The default run tries a few dozen examples per loader; ``pytest -m fuzz -s`` runs the same
properties on at least ``FUZZ_EXAMPLES`` (2,000) generated inputs each and prints the counts.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalinglab.errors import InputError, OptionError

FUZZ_EXAMPLES = 2000
QUICK_EXAMPLES = 30
#: seconds one example may take (the loaders take milliseconds; plan a fraction of a second)
TIME_LIMIT_S = 20.0
FIXTURES = Path(__file__).parent / "fixtures" / "hf_configs"
WORK = Path(tempfile.mkdtemp(prefix="scalinglab-fuzz-"))


class ExampleTimeout(BaseException):
    """An example ran past :data:`TIME_LIMIT_S` (a BaseException: no ``except Exception`` in
    the code under test can swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float = TIME_LIMIT_S) -> Iterator[None]:
    def fire(signum: int, frame: Any) -> None:
        raise ExampleTimeout(f"example ran past {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


COUNTS: dict[str, int] = {}


def _clean(name: str, fn: Callable[[], Any]) -> None:
    """Run ``fn`` under the time limit: a result or InputError/OptionError, nothing else."""
    COUNTS[name] = COUNTS.get(name, 0) + 1
    with time_limit():
        try:
            fn()
        except (InputError, OptionError) as exc:
            assert str(exc).strip(), "an error without a message"


def _cli(*argv: str) -> None:
    """The CLI in-process: exit status 0 or 2 (a ScalingLabError or a usage error), output
    discarded; any other exception escapes and fails the example."""
    from scalinglab.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            assert code in (0, 2), (code, argv, err.getvalue()[-2000:])
            if code == 2:
                assert "Traceback" not in err.getvalue()


# --------------------------------------------------------------------------- strategies
NAMES = ["N", "D", "C", "loss", "params", "tokens", "flops", "val_loss", "run_id", "group",
         "weight", "S", "U", "model_size", "n", "d", ""]
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -1, 1, 1e300, -1e300, 1e-320, 10**400]),
)
CELLS = st.one_of(
    NUMBERS.map(str),
    st.sampled_from(["", "True", "False", "nan", "inf", "-inf", "NA", "null", "1e", "--1",
                     '"', '""', "a,b", "1_000", "0x10", " 3 ", "١٢٣", "\x00"]),
    st.text(max_size=8),
)


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 9)) == 0:  # now and then, any text at all
        return draw(st.text(max_size=200))
    sep = draw(st.sampled_from([",", ",", ";", "\t"]))
    header = draw(st.lists(st.one_of(st.sampled_from(NAMES), st.text(max_size=6)),
                           min_size=0, max_size=7))
    n = len(header) or 1
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=n + 1), max_size=8))
    lines = [sep.join(header)] + [sep.join(r) for r in rows]
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n"]))


JSON_SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=6))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda c: st.one_of(
    st.lists(c, max_size=4), st.dictionaries(st.text(max_size=5), c, max_size=4)),
    max_leaves=20)
RECORD = st.dictionaries(st.sampled_from(NAMES), st.one_of(JSON_SCALARS, JSON_VALUES),
                         max_size=7)


def _dumps(obj: Any) -> str:
    try:
        return json.dumps(obj, allow_nan=True)
    except (ValueError, OverflowError):
        return "[]"


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return draw(st.text(max_size=200))
    if kind == 1:  # nesting too deep for a recursive parser
        depth = draw(st.sampled_from([10, 1000, 5000, 100_000]))
        opener = draw(st.sampled_from(["[", '{"a":']))
        closer = "]" if opener == "[" else "}"
        return opener * depth + "1" + closer * depth
    if kind == 2:  # a document cut short
        text = _dumps(draw(st.lists(RECORD, max_size=5)))
        return text[: draw(st.integers(0, len(text)))]
    if kind == 3:  # a key given twice
        rec = draw(RECORD)
        return "[" + _dumps(rec)[:-1] + (', "loss": 1}' if rec else '"loss": 1, "loss": 2}') \
            + "]"
    if kind == 4:
        return _dumps({"runs": draw(st.lists(RECORD, max_size=6))})
    if kind == 5:
        return _dumps(draw(JSON_VALUES))
    return _dumps(draw(st.lists(RECORD, max_size=8)))


def _load_table(name: str, text: str) -> None:
    from scalinglab.observations import load_observations, validate

    p = WORK / name
    p.write_text(text, encoding="utf-8", errors="surrogatepass")
    df = load_observations(p)
    if {"N", "D", "loss"} <= set(df.columns):
        validate(df, ["N", "D", "loss"])


PLAN_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-1", "1e300", "1e-300", "1e21", "3", "2.5", "1e15", "nan", "-inf",
                     "1e21,1e22", "1e21,", ",", "abc", "", "9" * 400]),
)
PLAN_OPTIONS = ["--compute", "--target-loss", "--target-params", "--inference-tokens",
                "--reference-compute", "--tolerance", "--level", "--unique-tokens"]
LAW_PARAMS = st.builds(
    lambda e, a, b, al, be: f"E={e},A={a},B={b},alpha={al},beta={be}",
    *[st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                st.sampled_from(["1.69", "406.4", "410.7", "0.34", "0.28", "0", "-1"]))
      for _ in range(5)])


@st.composite
def plan_argvs(draw: st.DrawFn) -> list[str]:
    argv = ["plan"]
    if draw(st.booleans()):
        argv += ["--params", draw(LAW_PARAMS)]
    for opt in draw(st.lists(st.sampled_from(PLAN_OPTIONS), min_size=1, max_size=3,
                             unique=True)):
        argv += [opt, draw(PLAN_NUMBERS)]
    return argv


HF_BASES = sorted(p.name for p in FIXTURES.glob("*.json") if "broken" not in p.name)
HF_VALUES = st.one_of(
    st.none(), st.booleans(), st.text(max_size=6), st.floats(allow_nan=True),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.sampled_from([0, -1, 10**13, 10**400, 2**63, "false", "true", [], {}, [1, 2], "9" * 50]),
)


@st.composite
def hf_texts(draw: st.DrawFn) -> str:
    base = json.loads((FIXTURES / draw(st.sampled_from(HF_BASES))).read_text())
    keys = [*base, "num_hidden_layers", "hidden_size", "num_attention_heads",
            "num_key_value_heads", "intermediate_size", "vocab_size", "tie_word_embeddings",
            "num_experts", "num_local_experts", "model_type", "head_dim", "n_layer", "n_embd"]
    for key in draw(st.lists(st.sampled_from(keys), max_size=4)):
        if draw(st.integers(0, 4)) == 0:
            base.pop(key, None)
        else:
            base[key] = draw(HF_VALUES)
    text = _dumps(base)
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text


SPEC_BASE: dict[str, Any] = {
    "name": "fuzz", "context": 32, "batch_size": 4,
    "design": {"kind": "grid", "models": [{"n_layer": 1, "d_model": 16, "n_head": 1}],
               "tokens": [2.0e4]},
}
DESIGNS: list[dict[str, Any]] = [
    {"kind": "grid", "params": [1e4, 3e4], "tokens": [2e4]},
    {"kind": "isoflop", "budgets": [1e12, 3e12], "points": 3},
    {"kind": "isoflop", "budgets": [1e12], "params": [1e4, 2e4]},
    {"kind": "kaplan-n", "params": [1e4], "tokens": 1e5},
    {"kind": "kaplan-d", "model": {"n_layer": 1, "d_model": 16, "n_head": 1}, "tokens": [1e4]},
    {"kind": "batch", "params": 1e4, "batch_sizes": [4, 8], "tokens": [1e4]},
    {"kind": "shape", "params": [1e4], "n_layers": [1, 2], "tokens_per_param": 20},
]
SPEC_VALUES = st.one_of(
    HF_VALUES, st.lists(HF_VALUES, max_size=3), st.floats(allow_infinity=True),
    st.sampled_from([1e300, -5, 0, 1e15, 1e16, [1e300], [float("inf")], [0.5], [10**30],
                     {"bogus": 1}, {"eval_tokens": -5}, [{"n_layer": 1, "d_model": 16,
                                                          "n_head": 3}]]),
)
SPEC_KEYS = ["name", "context", "batch_size", "lr", "seeds", "schedule", "device",
             "eval_every", "checkpoint_every", "n_convention", "max_retries", "train", "data",
             "search", "lr_sweep", "lr_scaling", "design", "bogus"]
DESIGN_KEYS = ["kind", "models", "params", "tokens", "budgets", "points", "span", "min_steps",
               "model", "batch_sizes", "n_layers", "tokens_per_param", "early_stopping"]


@st.composite
def specs(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 19)) == 0:
        return draw(JSON_VALUES)
    spec = json.loads(json.dumps(SPEC_BASE))
    spec["design"] = json.loads(json.dumps(draw(st.sampled_from(DESIGNS))))
    for key in draw(st.lists(st.sampled_from(SPEC_KEYS), max_size=2)):
        spec[key] = draw(SPEC_VALUES)
    if isinstance(spec.get("design"), dict):
        for key in draw(st.lists(st.sampled_from(DESIGN_KEYS), max_size=3)):
            spec["design"][key] = draw(SPEC_VALUES)
    return spec


def _spec(data: Any) -> None:
    from scalinglab.sweep.designs import expand
    from scalinglab.sweep.spec import parse_spec

    expand(parse_spec(data, "<fuzz>"))


def _yaml_spec(text: str) -> None:
    from scalinglab.sweep.spec import load_spec

    p = WORK / "spec.yaml"
    p.write_text(text, encoding="utf-8", errors="surrogatepass")
    load_spec(p)


YAML_TEXTS = st.one_of(
    st.text(max_size=120),
    st.sampled_from(["name: x\ncontext: 32\nbatch_size: 4\ndesign: {kind: grid, models: "
                     "[{n_layer: 1, d_model: 16, n_head: 1}], tokens: [.inf]}\n",
                     "[" * 5000, "a: &a [*a]", "!!python/object:os.system ls", "- - - -",
                     "name: !!binary AAAA", "{" * 100 + "}" * 100]),
)


# --------------------------------------------------------------------------- the properties
CASES: dict[str, tuple[Any, Callable[[Any], None]]] = {
    "csv": (csv_texts(), lambda t: _load_table("obs.csv", t)),
    "tsv": (csv_texts(), lambda t: _load_table("obs.tsv", t)),
    "json": (json_texts(), lambda t: _load_table("obs.json", t)),
    "jsonl": (json_texts().map(lambda t: t.replace("}, {", "}\n{").strip("[]")),
              lambda t: _load_table("obs.jsonl", t)),
    "plan": (plan_argvs(), lambda argv: _cli(*argv)),
    "hf-config": (hf_texts(), lambda t: (WORK / "config.json").write_text(t)
                  or _cli("count", "--hf-config", str(WORK / "config.json"))),
    "spec": (specs(), _spec),
    "spec-yaml": (YAML_TEXTS, _yaml_spec),
}


def _property(name: str, examples: int) -> Callable[[], None]:
    strategy, check = CASES[name]

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def prop(value: Any) -> None:
        _clean(name, lambda: check(value))

    return prop


@pytest.mark.parametrize("name", sorted(CASES))
def test_loader_gives_a_result_or_a_clean_error(name: str) -> None:
    _property(name, QUICK_EXAMPLES)()


@pytest.mark.fuzz
@pytest.mark.parametrize("name", sorted(CASES))
def test_fuzz_loader(name: str) -> None:
    before = COUNTS.get(name, 0)
    _property(name, FUZZ_EXAMPLES)()
    n = COUNTS.get(name, 0) - before
    print(f"\nfuzz {name}: {n} generated inputs, no unexpected exception")
    assert n >= FUZZ_EXAMPLES, n


def test_time_limit_stops_a_hang() -> None:
    with pytest.raises(ExampleTimeout), time_limit(0.2):
        while True:
            math.sqrt(2.0)


def test_strategies_reach_the_inputs_of_the_issue() -> None:
    """The generators can produce the inputs that crashed (so the fuzz run covers them)."""
    for name, text in (("obs.json", "[" * 100_000 + "1" + "]" * 100_000),
                       ("obs.json", '[{"N": 1, "D": 1' + "0" * 400 + ', "loss": 1}]'),
                       ("obs.csv", "N,D,loss,loss\n1,2,3,4\n")):
        with pytest.raises(InputError):
            _load_table(name, text)
