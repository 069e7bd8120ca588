"""Reading the file flows' CSV in segments, without holding the file in memory.

A staged CSV is read twice, both times as a stream:

1. :func:`scan` walks the whole file once and cuts it into segments of N data rows, recording
   for each the byte range ``[start, end)`` and the number of its first row. Only those numbers
   are kept: a segment message carries them, never the rows.
2. :func:`read_segment` reads one byte range and yields its rows, mapped by header name.

Record boundaries come from :mod:`csv` itself, fed one physical line at a time, so a quoted
field holding a line break never splits a row across two segments: the byte offset after each
record is exactly where the next one starts. Row numbers count data rows: row 1 is the first
row after the header. Blank lines are not rows.

Headers are matched by name, in any order; extra columns are ignored. Names are compared after
trimming spaces (and a UTF-8 byte order mark on the first one); the match is case-sensitive,
as the contract spells the names.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO

__all__ = [
    "MAX_HEADER_BYTES",
    "HeaderError",
    "CsvFormatError",
    "RowError",
    "Row",
    "require",
    "SegmentRef",
    "ScanResult",
    "parse_header",
    "check_header",
    "scan",
    "read_segment",
]

#: The header line must end within this many bytes (a bigger one is not a CSV header).
MAX_HEADER_BYTES = 64 * 1024

_BOM = codecs.BOM_UTF8
#: csv refuses a field longer than this: an unclosed quote cannot swallow the whole file.
FIELD_LIMIT = 128 * 1024


class HeaderError(ValueError):
    """The header line is unusable; ``problems`` are the messages for ``file.header``."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class CsvFormatError(ValueError):
    """The CSV cannot be read past row ``row`` (e.g. an unclosed quote)."""

    def __init__(self, row: int, message: str):
        self.row = row
        super().__init__(f"row {row}: {message}")


@dataclass(frozen=True)
class Row:
    """One data row: its number in the file and the wanted columns' values (missing -> "")."""

    number: int
    values: dict[str, str]


class RowError(ValueError):
    """One data row cannot be sent; the FAILURE ack names it by number and recordId."""

    def __init__(self, row: Row, message: str):
        self.row = row.number
        self.record_id = row.values.get("recordId") or None
        super().__init__(message)

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "recordId": self.record_id, "message": str(self)}


def require(row: Row, *names: str, max_length: int = 128) -> None:
    """Raise :class:`RowError` for the first of ``names`` that is empty, too long or not UTF-8."""
    for name in names:
        value = row.values.get(name, "")
        if not value:
            raise RowError(row, f"{name} is empty")
        if len(value) > max_length:
            raise RowError(row, f"{name} is longer than {max_length} characters")
        if "\ufffd" in value:
            raise RowError(row, f"{name} is not valid UTF-8")


@dataclass(frozen=True)
class SegmentRef:
    """Where one segment is: bytes ``[start, end)`` of the staged file, holding ``rows`` data
    rows numbered from ``row``."""

    start: int
    end: int
    row: int
    rows: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class ScanResult:
    columns: list[str]
    segments: list[SegmentRef]
    rows: int


class _Lines:
    """Physical lines of a binary stream, decoded one at a time, counting the bytes consumed.

    ``csv.reader`` pulls exactly the lines one record needs, so after each record ``pos`` is the
    byte offset where the next record starts. UTF-8 never has a ``\\n`` byte inside a character,
    so splitting bytes on ``\\n`` before decoding is safe. Undecodable bytes become U+FFFD,
    which the row checks report (a bad byte is a row problem, not a crash).
    """

    def __init__(self, raw: BinaryIO, pos: int = 0, limit: int | None = None):
        self.raw = raw
        self.pos = pos
        self.limit = limit

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.limit is not None:
            left = self.limit - self.pos
            if left <= 0:
                raise StopIteration
            line = self.raw.readline(left)
        else:
            line = self.raw.readline()
        if not line:
            raise StopIteration
        self.pos += len(line)
        return line.decode("utf-8", "replace")


def _reader(lines: _Lines) -> Any:
    csv.field_size_limit(FIELD_LIMIT)
    return csv.reader(lines, strict=False)


def _clean(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip()


def parse_header(first: bytes) -> list[str]:
    """The column names of a header line (bytes up to and including its line break)."""
    if first.startswith(_BOM):
        first = first[len(_BOM):]
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HeaderError([f"the header is not UTF-8 (byte {exc.start})"]) from exc
    try:
        record = next(csv.reader([text.rstrip("\r\n")]), [])
    except csv.Error as exc:
        raise HeaderError([f"the header is not valid CSV: {exc}"]) from exc
    return [_clean(c) for c in record]


def check_header(columns: Sequence[str], required: Sequence[str]) -> None:
    """Raise :class:`HeaderError` naming every required column that is missing (or doubled)."""
    if not any(columns):
        raise HeaderError(["the first line must be the header: " + ",".join(required)])
    problems = [f"missing column {name}" for name in required if name not in columns]
    problems += [f"column {name} appears more than once" for name in required
                 if list(columns).count(name) > 1]
    if problems:
        raise HeaderError(problems)


def _read_header(raw: BinaryIO) -> tuple[list[str], int]:
    first = raw.readline(MAX_HEADER_BYTES + 1)
    if len(first) > MAX_HEADER_BYTES:
        raise HeaderError([f"the header line is longer than {MAX_HEADER_BYTES} bytes"])
    return (parse_header(first) if first.strip(b"\r\n\t " + _BOM) else []), len(first)


def scan(raw: BinaryIO, size: int, *, on_progress: Callable[[int], None] | None = None,
         every: int = 100_000) -> ScanResult:
    """Walk the whole file once; cut it into segments of ``size`` data rows.

    An empty file (nothing, or a header only) has no segments. Raises :class:`CsvFormatError`
    when the CSV cannot be read past some row. ``on_progress(rows)`` is called every ``every``
    rows (a long scan shows it is alive).
    """
    if size <= 0:
        raise ValueError("segment size must be positive")
    columns, header_end = _read_header(raw)
    lines = _Lines(raw, pos=header_end)
    reader = _reader(lines)
    segments: list[SegmentRef] = []
    rows = 0
    start, first, count = header_end, 1, 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CsvFormatError(rows + 1, str(exc)) from exc
        if not record:  # a blank line: not a row, but its bytes belong to the segment
            continue
        rows += 1
        count += 1
        if on_progress is not None and rows % every == 0:
            on_progress(rows)
        if count == size:
            segments.append(SegmentRef(start, lines.pos, first, count))
            start, first, count = lines.pos, rows + 1, 0
    if count:
        segments.append(SegmentRef(start, lines.pos, first, count))
    return ScanResult(columns, segments, rows)


def read_segment(raw: BinaryIO, ref: SegmentRef | dict[str, Any], columns: Sequence[str],
                 wanted: Sequence[str]) -> Iterator[Row]:
    """Yield the rows of one segment. ``raw`` is positioned at ``ref.start`` and may end at
    ``ref.end`` (a ranged read) or go on (it is not read past ``end``)."""
    if isinstance(ref, dict):
        ref = SegmentRef(**{k: int(ref[k]) for k in ("start", "end", "row", "rows")})
    index = {name: columns.index(name) for name in wanted if name in columns}
    lines = _Lines(raw, pos=ref.start, limit=ref.end)
    number = ref.row
    reader = _reader(lines)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvFormatError(number, str(exc)) from exc
        if not record:
            continue
        yield Row(number, {name: record[i].strip() if i < len(record) else ""
                           for name, i in index.items()})
        number += 1
