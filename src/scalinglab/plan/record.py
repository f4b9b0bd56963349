"""The shared behaviour of the plan records (:class:`~scalinglab.plan.optimal.ComputePlan`,
:class:`~scalinglab.plan.inference.InferencePlan`, the test-time plans): one ``to_dict``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any


class PlanRecord:
    """Mixin of a plan dataclass: :meth:`to_dict` is the JSON-ready dict of its fields, without
    the empty ones (None, ``{}``, ``[]``)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict without the empty fields."""
        out = asdict(self)  # type: ignore[call-overload]
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
