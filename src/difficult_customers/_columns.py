"""A column of a frame of states that breaks a rule of the state (see :class:`FrameError`).

Published as ``difficult_customers.errors.ColumnProblem``; defined here, on its own, so
that only the frame and Parquet readers that report it pay for defining it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._text import shown

__all__ = ["ColumnProblem"]


@dataclass(frozen=True)
class ColumnProblem:
    """One column of a frame of states that breaks a rule of the state.

    Attributes:
        column: the column's name.
        rule: what the column must hold (or, for a column unknown to the state, the fields
            it may be).
        rows: the first offending row positions, counted from 0; empty for a problem of the
            whole column (an unknown column, a wrong dtype).
        count: how many rows break the rule in all.
    """

    column: str
    rule: str
    rows: tuple[int, ...] = ()
    count: int = 0

    def __str__(self) -> str:
        # A column's name is the caller's: one of any length may be what is wrong.
        if not self.rows:
            return f"column {shown(self.column)}: {self.rule}"
        rows = ", ".join(map(str, self.rows))
        more = f" ({self.count} rows in all)" if self.count > len(self.rows) else ""
        return f"column {shown(self.column)}: {self.rule}; rows {rows}{more}"
