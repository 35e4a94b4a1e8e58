"""Back-ends that compile the one validated condition tree to other languages.

Every back-end starts from the same place: the whitelisted, type-checked syntax tree of a
condition (the tree :meth:`Condition.explain` walks), lowered once by :mod:`._tree` into a
handful of node types. Each back-end is a module of its own, small enough to read at a glance:

- :mod:`.python`: Python source, compiled into the one function :func:`advise` runs;
- :mod:`.polars`: polars expressions, for :func:`difficult_customers.frames.advise_frame`
  (needs the ``[frames]`` extra);
- :mod:`.sql`: sqlglot expressions, for :meth:`Rulebook.to_sql` in any dialect sqlglot
  writes (needs the ``[sql]`` extra).

The interpreter in :mod:`difficult_customers.conditions` is the reference: the test corpus
in ``tests/test_compile.py`` checks every back-end against it.

Nothing here imports polars or sqlglot until a back-end that needs them is imported, so
``import difficult_customers`` works without any extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._tree import (
    AllOf,
    AnyOf,
    Compare,
    Constant,
    Fields,
    Flag,
    Member,
    Node,
    Not,
    lower,
)

if TYPE_CHECKING:
    from ._logic import RulebookLogic, rulebook_logic

__all__ = [
    "AllOf",
    "AnyOf",
    "Compare",
    "Constant",
    "Fields",
    "Flag",
    "Member",
    "Node",
    "Not",
    "RulebookLogic",
    "lower",
    "rulebook_logic",
]


def __getattr__(name: str) -> Any:
    # In _logic.py, loaded by the back-ends that need them: advise() does not.
    if name in {"RulebookLogic", "rulebook_logic"}:
        from . import _logic

        return getattr(_logic, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
