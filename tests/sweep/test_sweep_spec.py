"""Study specs: every design parses; bad keys and values name the file and the key."""

from __future__ import annotations

import textwrap

import pytest

from scalinglab.errors import InputError
from scalinglab.sweep.spec import StudySpec, load_spec, parse_spec

DESIGNS = {
    "grid": {"kind": "grid", "params": [1e4, 3e4], "tokens": [1e5]},
    "isoflop": {"kind": "isoflop", "budgets": ["1e10", 3e10], "points": 3},
    "kaplan-n": {"kind": "kaplan-n", "models": [{"n_layer": 1, "d_model": 16, "n_head": 1}],
                 "tokens": 1e6},
    "kaplan-d": {"kind": "kaplan-d", "params": 2e4, "tokens": [1e4, 1e5]},
    "batch": {"kind": "batch", "model": {"n_layer": 1, "d_model": 16, "n_head": 1},
              "batch_sizes": [4, 8], "tokens": [1e5]},
    "shape": {"kind": "shape", "params": [5e4], "n_layers": [1, 2, 4], "tokens_per_param": 20},
}


def _write(tmp_path, text: str):
    p = tmp_path / "study.yaml"
    p.write_text(textwrap.dedent(text))
    return p


@pytest.mark.parametrize("kind", sorted(DESIGNS))
def test_every_design_kind_parses(kind):
    spec = parse_spec({"name": "s", "context": 32, "batch_size": 8, "design": DESIGNS[kind]})
    assert isinstance(spec, StudySpec) and spec.design.kind == kind


def test_yaml_numbers_without_a_dot_are_accepted(tmp_path):
    p = _write(tmp_path, """
        name: iso
        context: 32
        batch_size: 8
        design: {kind: isoflop, budgets: [1e10, 3e10], params: [1e4, 2e4]}
    """)
    spec = load_spec(p)
    assert spec.design.budgets == [1e10, 3e10]  # PyYAML reads "1e10" as a string


@pytest.mark.parametrize(("body", "expected"), [
    ("design: {kind: grid, params: [1e4], tokens: [1e5], tokenz: 3}",
     "key design.tokenz: unknown key"),
    ("design: {kind: grid, params: [1e4], tokens: [1e5, lots]}",
     "key design.tokens[1]: Input should be a valid number"),
    ("design: {kind: grid, params: [1e4], tokens: [-5]}",
     "key design.tokens[0]: Input should be greater than 0"),
    ("design: {kind: cube, tokens: [1e5]}", "key design: Input tag 'cube'"),
    ("design: {kind: grid, tokens: [1e5]}",
     "key design: give exactly one of `models` (shapes) or `params` (sizes)"),
    ("design: {kind: grid, models: [{n_layer: 1, d_model: 30, n_head: 4}], tokens: [1e5]}",
     "key design.models[0]: d_model=30 is not divisible by n_head=4"),
    ("design: {kind: isoflop, budgets: [1e10], points: 3, params: [1e4]}",
     "give exactly one of `models`, `params` or `points`"),
    ("schedule: linear\ndesign: {kind: grid, params: [1e4], tokens: [1e5]}",
     "key schedule: Input should be 'cosine', 'wsd' or 'constant'"),
    ("train: {seed: 3}\ndesign: {kind: grid, params: [1e4], tokens: [1e5]}",
     "`train` may not set seed"),
])
def test_bad_specs_name_the_file_and_the_key(tmp_path, body, expected):
    p = _write(tmp_path, "name: s\ncontext: 32\nbatch_size: 8\n" + body + "\n")
    with pytest.raises(InputError) as info:
        load_spec(p)
    msg = str(info.value)
    assert msg.startswith(f"file {p}: ")
    assert expected in msg


def test_missing_keys_and_yaml_errors(tmp_path):
    p = _write(tmp_path, "name: s\ndesign: {kind: grid, params: [1e4], tokens: [1e5]}\n")
    with pytest.raises(InputError, match="key context: missing"):
        load_spec(p)
    p = _write(tmp_path, "name: s\ncontext: [32\n")
    with pytest.raises(InputError, match=r"not valid YAML: line \d+, column \d+"):
        load_spec(p)
    p = _write(tmp_path, "- just\n- a list\n")
    with pytest.raises(InputError, match="must be a mapping"):
        load_spec(p)
    with pytest.raises(InputError, match="no such study spec"):
        load_spec(tmp_path / "nope.yaml")


def test_relative_data_path_is_taken_beside_the_spec(tmp_path):
    (tmp_path / "corpus.txt").write_text("hello world\n" * 10)
    p = _write(tmp_path, """
        name: s
        data: corpus.txt
        context: 32
        batch_size: 8
        design: {kind: grid, params: [1e4], tokens: [1e5]}
    """)
    assert load_spec(p).data == str((tmp_path / "corpus.txt").resolve())
    p = _write(tmp_path, "name: s\ndata: shakespeare\ncontext: 8\nbatch_size: 2\n"
                         "design: {kind: grid, params: [1e4], tokens: [1e5]}\n")
    assert load_spec(p).data == "shakespeare"


def test_bad_spec_on_the_command_line_is_one_line_and_exit_2(cli, tmp_path):
    p = _write(tmp_path, "name: s\ncontext: 32\nbatch_size: 8\n"
                         "design: {kind: grid, params: [1e4], tokens: [1e5], tokenz: 3}\n")
    code, _, err = cli("sweep", "run", str(p), "--store", str(tmp_path / "s.db"))
    assert code == 2
    assert "design.tokenz" in err and str(p) in err.replace("\n", "")
    assert "Traceback" not in err
    assert not (tmp_path / "s.db").exists()


@pytest.mark.train
@pytest.mark.parametrize(("train", "expected"), [
    ("{bogus: 1}", "key train.bogus: unknown key: not a trainer option"),
    ("{dropuot: 0.1}", "key train.dropuot: unknown key: not a trainer option; did you mean "
                       "'dropout'?"),
    ("{dropout: 1.5}", "key train.dropout: Input should be less than 1 (got 1.5)"),
    ("{positions: rotary}", "argument positions: rotary positions need an even head dimension"),
])
def test_options_the_trainer_refuses_are_caught_before_anything_runs(cli, tmp_path, train,
                                                                     expected):
    p = _write(tmp_path, "name: s\ncontext: 32\nbatch_size: 8\ntrain: " + train + "\n"
                         "design: {kind: grid, models: [{n_layer: 1, d_model: 24, n_head: 8}], "
                         "tokens: [1e5]}\n")
    code, _, err = cli("sweep", "run", str(p), "--store", str(tmp_path / "s.db"))
    assert code == 2 and expected in err.replace("\n", " ") and str(p) in err.replace("\n", "")
    assert not (tmp_path / "s.db").exists()


#: the devices the trainer takes (``TrainConfig.device``): cpu, cuda, cuda:N (any index), mps,
#: auto; nothing else
@pytest.mark.parametrize(("device", "ok"), [
    ("cpu", True), ("cuda", True), ("cuda:0", True), ("cuda:3", True), ("mps", True),
    ("auto", True), ("tpu", False), ("cuda:", False), ("cuda:x", False), ("gpu:0", False),
    ("CPU", False),
])
def test_a_spec_takes_exactly_the_devices_the_trainer_takes(device, ok):
    from scalinglab.errors import ParameterError
    from scalinglab.train.config import TrainConfig

    try:
        TrainConfig(n_layer=1, d_model=16, n_head=1, context=8, batch_size=1, tokens=8,
                    device=device)
        trainer_ok = True
    except ParameterError:
        trainer_ok = False
    assert trainer_ok == ok
    spec = {"name": "s", "context": 8, "batch_size": 1, "device": device,
            "design": DESIGNS["grid"]}
    if ok:
        assert parse_spec(spec).device == device
    else:
        with pytest.raises(InputError, match="key device: unknown device"):
            parse_spec(spec)


def test_the_keys_a_spec_shares_with_the_trainer_are_the_trainers():
    from scalinglab.train.config import TrainConfig

    spec = parse_spec({"name": "s", "context": 8, "batch_size": 1, "design": DESIGNS["grid"]})
    shared = set(StudySpec.model_fields) & set(TrainConfig.model_fields)
    assert shared == {"data", "tokenizer", "context", "batch_size", "schedule", "lr", "device",
                      "eval_every", "checkpoint_every"}
    for key in shared - {"context", "batch_size"}:  # (required in both)
        assert getattr(spec, key) == TrainConfig.model_fields[key].default, key
    with pytest.raises(InputError, match="key schedule: Input should be 'cosine', 'wsd' or "
                                         "'constant'"):
        parse_spec({"name": "s", "context": 8, "batch_size": 1, "schedule": "linear",
                    "design": DESIGNS["grid"]})


def test_train_options_are_checked_and_kept_as_written():
    """``train:`` is checked against TrainConfig's fields, but its values are kept as written
    (they enter the runs' identities: 0 must stay 0, not become 0.0)."""
    base = {"name": "s", "context": 8, "batch_size": 1, "design": DESIGNS["grid"]}
    spec = parse_spec({**base, "train": {"weight_decay": 0}})
    assert spec.train == {"weight_decay": 0} and type(spec.train["weight_decay"]) is int
    assert spec.model_dump()["train"] == {"weight_decay": 0}
    for train, key in [({"beta2": 1.0}, "train.beta2"), ({"schedule": "wsd"}, "train"),
                       ({"decay_fraction": 0}, "train.decay_fraction"),
                       ({"warmup": 3}, "train.warmup")]:
        with pytest.raises(InputError, match=rf"key {key}[:. ]"):
            parse_spec({**base, "train": train})
