"""safe_name: names from outside are data, never paths."""

from __future__ import annotations

import pytest

from hub.transports import UnsafeNameError, safe_name
from hub.transports.base import temp_name
from hub.transports.names import MAX_NAME_BYTES, is_safe_name


@pytest.mark.parametrize("name", [
    "DeviceScore_20261204.csv", "Sent-a.csv", "a", "with space.csv", "ünïcödé-名前.csv",
    "a..b", "x.", "-dash", "~tilde", "a" * MAX_NAME_BYTES,
])
def test_plain_names_pass_unchanged(name: str) -> None:
    assert safe_name(name) == name
    assert is_safe_name(name)


@pytest.mark.parametrize(("name", "reason"), [
    ("", "empty"),
    ("../etc/passwd", "'/'"),
    ("a/b", "'/'"),
    ("/abs", "'/'"),
    ("a\\b", "'/'"),
    ("..\\..\\boot.ini", "'/'"),
    (".", "'.' or '..'"),
    ("..", "'.' or '..'"),
    (".hidden", "start with '.'"),
    (".x.part-0123", "start with '.'"),
    ("a\x00b", "control character"),
    ("a\nb", "control character"),
    ("a\r\nDELE x", "control character"),
    ("tab\there", "control character"),
    ("del\x7f", "control character"),
    ("bidi\u202egpj.exe", "control character"),
    (" lead", "whitespace"),
    ("trail ", "whitespace"),
    ("é" * 128, "bytes"),
])
def test_unsafe_names_are_refused_with_a_reason(name: str, reason: str) -> None:
    with pytest.raises(UnsafeNameError) as info:
        safe_name(name)
    assert reason in str(info.value)
    assert isinstance(info.value, ValueError)
    assert not is_safe_name(name)


def test_non_strings_are_refused() -> None:
    with pytest.raises(UnsafeNameError, match="must be a string"):
        safe_name(b"bytes.csv")  # type: ignore[arg-type]
    with pytest.raises(UnsafeNameError):
        safe_name(None)  # type: ignore[arg-type]


def test_temporary_names_are_hidden_unique_and_short_enough() -> None:
    name = "é" * 127  # 254 bytes: the longest safe name
    a, b = temp_name(name), temp_name(name)
    assert a != b
    assert a.startswith(".") and ".part-" in a
    assert len(a.encode()) <= MAX_NAME_BYTES
    assert not is_safe_name(a)  # never addressable from outside
