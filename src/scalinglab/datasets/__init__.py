"""Example data sets shipped with scalinglab: real published runs, in the observation format.

* ``chinchilla`` (245 rows): Hoffmann et al.'s runs digitised by Epoch from Figure 4 (N total
  parameters, C FLOPs, D = C/(6N)); Besiroglu et al. 2024 (arXiv 2404.10102).
* ``chinchilla-240``: the same without the 5 highest-loss rows (Epoch's standard subset).
* ``gadre2024`` (104): over-trained open_lm runs on 3 corpora, loss = C4 eval loss; Gadre et
  al. 2024 (arXiv 2403.08540), MIT licence.
* ``misfitting2025`` (261): last checkpoints of open_lm runs over several learning rates; Li et
  al. 2025 (arXiv 2502.18969). ``misfitting2025-best`` (81): the best rate per (N, D) cell.
* ``gordon2021`` (240): NMT runs (de/ru/zh-en), dev cross-entropy over data bytes and
  non-embedding encoder+decoder size; Gordon, Duh, Kaplan 2021 (EMNLP 2021).

``load(name)`` returns a DataFrame with the standard columns (``N``, ``D``, ``C``, ``loss``,
``run_id``, ``group`` where they apply) plus the original ones, and ``df.attrs`` holding the
citation and the conventions (N with embeddings; C = 6ND). See ``datasets/data/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from scalinglab.errors import ParameterError, unknown


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    file: str
    description: str
    citation: str
    conventions: dict[str, str]


_CH_CONV = {"N": "total parameters incl. embeddings (Chinchilla)",
            "C": "training FLOPs as plotted by Hoffmann et al.",
            "D": "derived as C / (6 N)", "loss": "final smoothed training loss, nats/token"}
_CH_CITE = ("Besiroglu, Erdil, Barnett, You 2024, 'Chinchilla Scaling: A replication attempt' "
            "(arXiv 2404.10102), data from epoch-research/analyzing-chinchilla; Hoffmann et al. "
            "2022 (arXiv 2203.15556)")
_GA_CITE = ("Gadre et al. 2024, 'Language models scale reliably with over-training and on "
            "downstream tasks' (arXiv 2403.08540); data from mlfoundations/scaling, MIT licence, "
            "Copyright (c) 2024 mlfoundations")
_MF_CITE = ("Li, Kudugunta, Zettlemoyer 2025, '(Mis)Fitting Scaling Laws' (ICLR 2025, arXiv "
            "2502.18969); data from hadasah/scaling_laws")
_OL_CONV = {"N": "total parameters incl. input and output embeddings",
            "C": "6 N D", "D": "training tokens", "loss": "validation loss, nats/token"}

DATASETS: dict[str, DatasetInfo] = {
    "chinchilla": DatasetInfo("chinchilla", "chinchilla_epoch_svg.csv",
                              "245 Chinchilla runs digitised from Hoffmann et al. Fig. 4",
                              _CH_CITE, _CH_CONV),
    "chinchilla-240": DatasetInfo("chinchilla-240", "chinchilla_epoch_svg.csv",
                                  "Epoch's 240-run subset (5 highest-loss rows dropped)",
                                  _CH_CITE, _CH_CONV),
    "gadre2024": DatasetInfo("gadre2024", "gadre2024_runs.csv",
                             "104 over-trained open_lm runs (loss = C4 eval)", _GA_CITE,
                             _OL_CONV),
    "misfitting2025": DatasetInfo("misfitting2025", "misfitting_li2025_last_ckpt.csv",
                                  "261 open_lm final checkpoints over learning rates", _MF_CITE,
                                  _OL_CONV),
    "misfitting2025-best": DatasetInfo("misfitting2025-best", "misfitting_li2025_last_ckpt.csv",
                                       "81 runs: best learning rate per (N, D)", _MF_CITE,
                                       _OL_CONV),
    "gordon2021": DatasetInfo(
        "gordon2021", "gordon2021_data_scaling.csv",
        "240 NMT runs (de/ru/zh-en): dev cross-entropy over data size and model size",
        "Gordon, Duh, Kaplan 2021, 'Data and Parameter Scaling Laws for Neural Machine "
        "Translation' (EMNLP 2021); data from mitchellgordon95/mt-scaling "
        "summaries/data_scaling.0126.summary @15e80fe768588c802235b9a66a784ec57751a3ee",
        {"N": "non-embedding parameters of encoder + decoder, 2 Layers (4 d^2 + 2 d d_ff) as "
              "the repository's plots/main.py counts them",
         "D": "training data in bytes (data_bytes)", "C": "6 N D (bytes, not tokens)",
         "loss": "dev cross-entropy (ent_dev) as the repository reports it"}),
}


def path(name: str) -> Path:
    """The bundled file behind a data set."""
    info = _info(name)
    return Path(str(resources.files("scalinglab.datasets") / "data" / info.file))


def _info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise ParameterError("name", unknown("data set", name, DATASETS))
    return DATASETS[name]


def load(name: str) -> pd.DataFrame:
    """A bundled data set as an observation table (see the module docstring)."""
    info = _info(name)
    if name == "gordon2021":
        raw = pd.read_csv(path(name), comment="#")
    else:
        raw = pd.read_csv(path(name))
    if name.startswith("chinchilla"):
        df = raw.rename(columns={"Model Size": "N", "Training FLOP": "C"})
        df["D"] = df["C"] / (6.0 * df["N"])
        df["run_id"] = [f"chinchilla-{i}" for i in range(len(df))]
        if name == "chinchilla-240":
            # Epoch's notebook keeps loss < sorted(loss)[-5]: drops the 5 highest-loss rows.
            df = df[df["loss"] < sorted(df["loss"])[-5]].reset_index(drop=True)
    elif name == "gordon2021":
        df = raw.copy()
        df["N"] = 2.0 * df["Layers"] * (4.0 * df["ModelSize"] ** 2
                                        + 2.0 * df["ModelSize"] * df["FeedForward"])
        df["D"] = df["data_bytes"].astype(float)
        df["C"] = 6.0 * df["N"] * df["D"]
        df["loss"] = df["ent_dev"]
        df["group"] = df["Lang"]
        df["run_id"] = (df["Lang"] + "/L" + df["Layers"].astype(str) + "/d"
                        + df["ModelSize"].astype(str) + "/ff" + df["FeedForward"].astype(str)
                        + "/data" + df["DataPercent"].astype(str))
    elif name == "gadre2024":
        df = raw.copy()
        df["C"] = 6.0 * df["N"] * df["D"]
        df["loss"] = df["loss_c4_val"]
        df["run_id"] = df["name"]
        df["group"] = df["dataset"]
    else:
        df = raw.copy()
        for c in ("C", "C_no_emb", "C_6ND", "C_6ND_no_emb"):
            df[c] = df[c].astype(float)
        df["C"] = df["C_6ND"]
        df["run_id"] = (df["sweep"].astype(str) + "/" + df["model"].astype(str) + "/"
                        + df["D"].astype(str) + "/lr" + df["peak_lr"].astype(str))
        if name == "misfitting2025-best":
            idx = df.groupby(["N", "D"])["loss"].idxmin()
            df = df.loc[sorted(idx)].reset_index(drop=True)
    df.attrs = {"source": f"scalinglab.datasets:{name}", "citation": info.citation,
                "conventions": dict(info.conventions)}
    return df


def list_datasets() -> list[DatasetInfo]:
    return list(DATASETS.values())
