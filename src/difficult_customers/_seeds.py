"""Lowered condition trees waiting to be handed to :mod:`compile._tree` (see _prebuilt.py).

A list of its own, apart from ``_tree``, so that the prebuilt rulebook can leave its trees
here without importing the compiler: its first ``advise()`` runs prebuilt evaluators and
lowers no condition, so the compiler (``compile/``, ``_parser.py``: 2 ms) is often never
needed. The first condition lowered for the default schema (``compile._tree``) runs the
providers left here and empties the list.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["LATER"]

#: Providers of seeds not yet run; each is called once, by whichever thread pops it.
LATER: list[Callable[[], object]] = []
