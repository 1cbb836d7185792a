"""Parameter values written into SQL text, for statements PostgreSQL should plan once.

PostgreSQL plans a prepared statement once for all values of its parameters (a *generic* plan),
or, when that plan would be worse than one made for the values at hand, again on every run. A
value the plan depends on, such as the state a partial index is defined by or a LIKE pattern,
therefore belongs in the text, where the planner sees it and every run shares the plan.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_PLACEHOLDER = re.compile(r"%%|%s")


def inline(
    sql: str,
    params: list,
    connection,
    written: Callable[[Any], bool],
    literal: Callable[[Any], Any] = lambda param: param,
) -> tuple[str, list]:
    """``sql`` with the parameters that ``written(param)`` picks written into its text as literals
    (``literal(param)``, quoted by psycopg), and the parameters left. PostgreSQL only."""
    from psycopg.sql import Literal

    connection.ensure_connection()
    left: list = []
    places = iter(params)

    def place(match: re.Match) -> str:
        if match.group() == "%%":
            return "%%"
        param = next(places)
        if written(param):
            return Literal(literal(param)).as_string(connection.connection).replace("%", "%%")
        left.append(param)
        return "%s"

    return _PLACEHOLDER.sub(place, sql), left
