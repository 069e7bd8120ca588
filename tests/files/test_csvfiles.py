"""The segment scanner and reader: boundaries, row numbers, header matching, odd CSV."""

from __future__ import annotations

import io

import pytest
from files.filetools import RESERVATION_COLUMNS, reservation_csv, to_csv

from mappings.csvfiles import (
    HeaderError,
    SegmentRef,
    check_header,
    parse_header,
    read_segment,
    scan,
)


def rows_of(data: bytes, ref: SegmentRef, columns: list[str], wanted: tuple[str, ...]) -> list:
    stream = io.BytesIO(data)
    stream.seek(ref.start)
    return list(read_segment(stream, ref, columns, wanted))


@pytest.mark.parametrize(("count", "sizes"), [(2500, [1000, 1000, 500]), (1000, [1000]),
                                              (999, [999]), (1001, [1000, 1]), (1, [1])])
def test_segments_cover_every_row_once_with_contiguous_byte_ranges(count: int,
                                                                   sizes: list[int]) -> None:
    data = reservation_csv(count)
    found = scan(io.BytesIO(data), 1000)
    assert found.rows == count
    assert [s.rows for s in found.segments] == sizes
    assert [s.row for s in found.segments] == [1 + 1000 * i for i in range(len(sizes))]
    assert found.segments[0].start == data.index(b"\n") + 1
    assert found.segments[-1].end == len(data)
    for left, right in zip(found.segments, found.segments[1:], strict=False):
        assert left.end == right.start
    seen = []
    for ref in found.segments:
        rows = rows_of(data, ref, found.columns, ("recordId",))
        assert [r.number for r in rows] == list(range(ref.row, ref.row + ref.rows))
        seen += [int(r.values["recordId"]) for r in rows]
    assert seen == list(range(1, count + 1))


def test_a_quoted_line_break_never_splits_a_row() -> None:
    data = (b'recordId,nicId,headEndSystem\n1,N1,"multi\nline"\n2,N2,H\n'
            b'3,"N""3",H\r\n\r\n4,N4,H\n')
    found = scan(io.BytesIO(data), 2)
    assert [(s.row, s.rows) for s in found.segments] == [(1, 2), (3, 2)]
    first = rows_of(data, found.segments[0], found.columns, ("nicId", "headEndSystem"))
    assert first[0].values == {"nicId": "N1", "headEndSystem": "multi\nline"}
    second = rows_of(data, found.segments[1], found.columns, ("recordId", "nicId"))
    assert [r.values for r in second] == [{"recordId": "3", "nicId": 'N"3'},
                                          {"recordId": "4", "nicId": "N4"}]
    assert [r.number for r in second] == [3, 4]  # the blank line is not a row


def test_columns_are_matched_by_name_in_any_order_and_extras_ignored() -> None:
    columns = ("deviceType", "extra", "headEndSystem", "recordId", "servicePointId", "nicId")
    data = to_csv(columns, [{"recordId": "7", "nicId": "N7", "headEndSystem": "H", "extra": "x"}])
    found = scan(io.BytesIO(data), 1000)
    rows = rows_of(data, found.segments[0], found.columns, ("recordId", "nicId", "headEndSystem"))
    assert rows[0].values == {"recordId": "7", "nicId": "N7", "headEndSystem": "H"}


def test_a_short_row_reads_missing_columns_as_empty() -> None:
    data = b"recordId,nicId,headEndSystem\n1,N1\n"
    found = scan(io.BytesIO(data), 10)
    assert rows_of(data, found.segments[0], found.columns, ("recordId", "headEndSystem"))[0] \
        .values == {"recordId": "1", "headEndSystem": ""}


def test_bom_crlf_and_spaces_in_the_header() -> None:
    assert parse_header(b"\xef\xbb\xbf recordId , nicId,headEndSystem\r\n") == \
        ["recordId", "nicId", "headEndSystem"]


@pytest.mark.parametrize("data", [b"", b"recordId,nicId,headEndSystem\n",
                                  b"recordId,nicId,headEndSystem", b"recordId,nicId\n\n\n"])
def test_empty_files_have_no_segments(data: bytes) -> None:
    found = scan(io.BytesIO(data), 1000)
    assert found.rows == 0 and found.segments == []


def test_header_check_names_every_missing_column() -> None:
    with pytest.raises(HeaderError) as caught:
        check_header(["recordId", "servicePointId"], ("recordId", "nicId", "headEndSystem"))
    assert caught.value.problems == ["missing column nicId", "missing column headEndSystem"]
    with pytest.raises(HeaderError, match="more than once"):
        check_header(["recordId", "nicId", "nicId", "headEndSystem"],
                     ("recordId", "nicId", "headEndSystem"))
    check_header(list(reversed(RESERVATION_COLUMNS)), ("recordId", "nicId", "headEndSystem"))


def test_a_header_that_is_not_utf8_is_a_header_error() -> None:
    with pytest.raises(HeaderError, match="not UTF-8"):
        parse_header(b"record\xffId,nicId\n")


def test_bad_bytes_in_a_row_do_not_crash_the_reader() -> None:
    data = b"recordId,nicId,headEndSystem\n1,N\xff1,H\n"
    found = scan(io.BytesIO(data), 10)
    row = rows_of(data, found.segments[0], found.columns, ("nicId",))[0]
    assert row.values["nicId"] == "N\ufffd1"


def test_a_long_scan_reports_progress() -> None:
    seen: list[int] = []
    scan(io.BytesIO(reservation_csv(2500)), 1000, on_progress=seen.append, every=1000)
    assert seen == [1000, 2000]
