"""The law zoo: every scaling law scalinglab fits, by name.

``get_law("chinchilla")``, ``get_law("power", x="D")``, ``get_law("bnsl", x="C", breaks=2)``.
Names and parameter names are a contract (tests and fit JSON files rely on them); see
``list_laws()`` or ``scalinglab laws`` for the table, and :mod:`scalinglab.laws.published` for
published constants.
"""

from __future__ import annotations

from collections.abc import Callable

from scalinglab.errors import ParameterError, unknown
from scalinglab.laws.base import Law, Param, numeric_jacobian
from scalinglab.laws.chinchilla import Chinchilla, DataConstrained, chinchilla_allocation
from scalinglab.laws.curves import BrokenPowerLaw, Sigmoid
from scalinglab.laws.domains import GordonNMT, NMTEncDec, Zhai
from scalinglab.laws.downstream import Downstream, ExpDecayError
from scalinglab.laws.extensions import Precision, Transfer
from scalinglab.laws.kaplan import KaplanND, KaplanNS, Power, SaturatingPower
from scalinglab.laws.testtime import Coverage, TrainTest

#: name -> (factory, whether it takes a single variable ``x``)
_REGISTRY: dict[str, tuple[Callable[..., Law], bool]] = {
    "chinchilla": (Chinchilla, False),
    "kaplan-nd": (KaplanND, False),
    "kaplan-ns": (KaplanNS, False),
    "power": (Power, True),
    "saturating-power": (SaturatingPower, True),
    "bnsl": (BrokenPowerLaw, True),
    "sigmoid": (Sigmoid, True),
    "data-constrained": (DataConstrained, False),
    "precision": (Precision, False),
    "transfer": (Transfer, False),
    "zhai": (Zhai, True),
    "nmt-encdec": (NMTEncDec, False),
    "gordon-nmt": (GordonNMT, False),
    "downstream": (Downstream, True),
    "train-test": (TrainTest, False),
    "coverage": (Coverage, False),
}

LAW_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def get_law(name: str | Law, *, x: str | None = None, breaks: int | None = None) -> Law:
    """The law called ``name``. ``x`` picks the variable of one-variable laws (default N for
    power laws, C for bnsl, loss for sigmoid); ``breaks`` the number of breaks of ``bnsl``."""
    if isinstance(name, Law):
        return name
    if name not in _REGISTRY:
        raise ParameterError("law", unknown("law", name, LAW_NAMES))
    factory, single = _REGISTRY[name]
    kwargs: dict[str, object] = {}
    if x is not None:
        if not single:
            raise ParameterError("x", f"law {name!r} has fixed variables; x is for "
                                 "one-variable laws (power, saturating-power, bnsl, sigmoid)")
        kwargs["x"] = x
    if breaks is not None:
        if name != "bnsl":
            raise ParameterError("breaks", f"only the bnsl law takes breaks, not {name!r}")
        kwargs["breaks"] = breaks
    return factory(**kwargs)


def takes_x(name: str) -> bool:
    """Whether the law ``name`` is a one-variable law whose variable ``--x`` picks."""
    return name in _REGISTRY and _REGISTRY[name][1]


def list_laws() -> list[Law]:
    """One default instance of every law (for listings)."""
    return [get_law(n) for n in LAW_NAMES]


__all__ = [
    "LAW_NAMES",
    "BrokenPowerLaw",
    "Chinchilla",
    "Coverage",
    "DataConstrained",
    "Downstream",
    "ExpDecayError",
    "GordonNMT",
    "KaplanND",
    "KaplanNS",
    "Law",
    "NMTEncDec",
    "Param",
    "Power",
    "Precision",
    "SaturatingPower",
    "Sigmoid",
    "TrainTest",
    "Transfer",
    "Zhai",
    "chinchilla_allocation",
    "get_law",
    "list_laws",
    "numeric_jacobian",
    "takes_x",
]
