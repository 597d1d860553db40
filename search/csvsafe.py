"""CSV that spreadsheets open as data, never as formulas.

Every CSV the project writes goes through ``dict_writer`` (or
``safe_cell``): a cell beginning with ``=``, ``+``, ``-``, ``@``, a TAB
or a CR (OWASP's "CSV Injection" list), or their full-width forms
``＝ ＋ － ＠`` (which spreadsheets in Chinese and Japanese locales may read
as the same operators), is prefixed with a single quote, so Excel and
LibreOffice show it as text; quoting of commas, quotes and line breaks is
left to the ``csv`` module.  The quote is visible in the cell: the price of
not running formulas from article text.
"""

from __future__ import annotations

import csv
from typing import IO, Iterable, Mapping

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value) -> str:
    """The text of one cell (None -> ""), with a leading ``'`` when it
    would start a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class dict_writer:  # noqa: N801 - used like csv.DictWriter
    """``csv.DictWriter`` whose header and cells pass through ``safe_cell``."""

    def __init__(self, out: IO[str], fieldnames: Iterable[str], **kwargs):
        self.fieldnames = tuple(fieldnames)
        self._writer = csv.DictWriter(out, fieldnames=self.fieldnames, **kwargs)

    def writeheader(self) -> None:
        """Write the header row (field names passed through ``safe_cell``)."""
        self._writer.writerow({f: safe_cell(f) for f in self.fieldnames})

    def writerow(self, row: Mapping) -> None:
        """Write one row (a mapping of field name -> value); every cell passes through
        ``safe_cell``."""
        self._writer.writerow({k: safe_cell(v) for k, v in row.items()})

    def writerows(self, rows: Iterable[Mapping]) -> None:
        """Write each row of ``rows`` (an iterable of mappings) with ``writerow``."""
        for row in rows:
            self.writerow(row)
