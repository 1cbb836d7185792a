"""CSV written line by line, for a response or a command that streams it (memory stays flat however
many rows), its cells safe to open in a spreadsheet: one that starts like a formula is quoted with
an apostrophe (OWASP's advice on CSV injection). The audit trail's export and the HR screen's both
write through here."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Line:
    """A file whose write returns the line, for csv.writer to stream."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(
    header: list[str], rows: Iterable[Iterable[object]], *, lineterminator: str = "\r\n"
) -> Iterator[str]:
    """The header, then each row, each a line of CSV with its cells made safe (``csv_cell``)."""
    writer = csv.writer(_Line(), lineterminator=lineterminator)
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])
