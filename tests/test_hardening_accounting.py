"""Hardening of ``scalinglab count --hf-config``: oversized integers and non-boolean flags in a
config.json are one InputError naming the file and the key (exit 2), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "hf_configs"


def _config(tmp_path: Path, name: str, key: str, raw_value: str) -> Path:
    """The fixture ``name`` with ``key`` set to the raw JSON text ``raw_value``."""
    cfg = json.loads((FIXTURES / name).read_text())
    cfg[key] = "@@VALUE@@"
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg).replace('"@@VALUE@@"', raw_value))
    return p


def _check(code: int, err: str, path: Path, key: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    flat = " ".join(err.split())
    assert flat.startswith("error:") and flat.count("error:") == 1, err
    assert str(path) in flat, err
    assert repr(key) in flat, err


@pytest.mark.parametrize(("name", "key", "raw"), [
    ("pythia-160m.json", "num_hidden_layers", str(10**400)),
    ("pythia-160m.json", "num_hidden_layers", "9" * 5000),
    ("llama-2-7b.json", "hidden_size", "-" + "9" * 5000),
    ("llama-2-7b.json", "num_key_value_heads", str(10**40)),
    ("gpt2.json", "n_inner", "9" * 5000),
    ("gpt2.json", "n_layer", str(10**13)),
])
def test_oversized_integers_name_file_and_key(cli, tmp_path, name, key, raw) -> None:
    p = _config(tmp_path, name, key, raw)
    code, _out, err = cli("count", "--hf-config", str(p))
    _check(code, err, p, key)


@pytest.mark.parametrize(("name", "key"), [
    ("pythia-160m.json", "tie_word_embeddings"),
    ("gpt2.json", "tie_word_embeddings"),
    ("llama-2-7b.json", "tie_word_embeddings"),
    ("llama-2-7b.json", "attention_bias"),
    ("llama-2-7b.json", "mlp_bias"),
])
@pytest.mark.parametrize("raw", ['"false"', '"true"', "0", "1"])
def test_booleans_are_strict(cli, tmp_path, name, key, raw) -> None:
    p = _config(tmp_path, name, key, raw)
    code, _out, err = cli("count", "--hf-config", str(p))
    _check(code, err, p, key)


@pytest.mark.parametrize("value", [True, False])
def test_real_booleans_still_work(tmp_path, value: bool) -> None:
    from scalinglab.accounting.hf_config import shape_from_hf_config

    cfg = json.loads((FIXTURES / "pythia-160m.json").read_text())
    cfg["tie_word_embeddings"] = value
    assert shape_from_hf_config(cfg).tied is value
