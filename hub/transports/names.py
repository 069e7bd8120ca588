"""Validation of file names that come from outside the hub.

A file name in a request (``fileName``, ``objectName``) or in a remote listing is data, never a
path: every transport passes each name through :func:`safe_name` before it touches storage, so a
name can only ever address a file directly inside the transport's own directory or key prefix.
"""

from __future__ import annotations

import unicodedata

__all__ = ["UnsafeNameError", "safe_name", "MAX_NAME_BYTES"]

#: Most filesystems (ext4, xfs, NTFS) and FTP servers cap a path component at 255 bytes.
MAX_NAME_BYTES = 255


class UnsafeNameError(ValueError):
    """A file name was refused: it could escape the directory, hide, or break a protocol line."""

    def __init__(self, name: object, reason: str):
        self.name = name
        self.reason = reason
        # repr() of the name so control characters show up escaped in logs, not interpreted.
        super().__init__(f"unsafe file name {name!r}: {reason}")


def safe_name(name: str) -> str:
    """Return ``name`` unchanged if it is a plain file name, else raise :class:`UnsafeNameError`.

    Refused:

    * anything that is not a non-empty ``str``;
    * ``/`` and ``\\`` (a name must not name another directory, on any server OS);
    * NUL and other control characters (CR/LF would inject FTP commands, NUL truncates C paths);
    * ``.`` and ``..``, and every name starting with ``.`` (hidden files, and the transports' own
      ``.<name>.part-<id>`` temporary uploads, must not be addressable from outside);
    * names with leading or trailing whitespace (they are almost always a copy-paste accident, and
      several FTP servers strip them silently, so the file would land under another name);
    * names longer than :data:`MAX_NAME_BYTES` bytes in UTF-8.
    """
    if not isinstance(name, str):
        raise UnsafeNameError(name, f"must be a string, not {type(name).__name__}")
    if not name:
        raise UnsafeNameError(name, "must not be empty")
    if "/" in name or "\\" in name:
        raise UnsafeNameError(name, "must not contain '/' or '\\' (a name is not a path)")
    for ch in name:
        # Category C* covers control (Cc), format (Cf, e.g. bidi overrides), surrogates and
        # unassigned code points: none belongs in a file name that ops people have to read.
        if ch == "\x00" or unicodedata.category(ch).startswith("C"):
            raise UnsafeNameError(name, f"must not contain control character {ch!r}")
    if name in (".", ".."):
        raise UnsafeNameError(name, "must not be '.' or '..'")
    if name.startswith("."):
        raise UnsafeNameError(name, "must not start with '.' (hidden and temporary files)")
    if name != name.strip():
        raise UnsafeNameError(name, "must not start or end with whitespace")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise UnsafeNameError(name, f"must be at most {MAX_NAME_BYTES} bytes in UTF-8")
    return name


def is_safe_name(name: str) -> bool:
    """True when :func:`safe_name` would accept ``name`` (used to filter remote listings)."""
    try:
        safe_name(name)
    except UnsafeNameError:
        return False
    return True
