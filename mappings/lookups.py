"""Value lookups: OIC's ``_EventType``, ``_AssetType``, ``_AssetSpec``, ``_EnrollmentStatus``,
``_InstallationMethod``, ``_AssetOwnership`` and ``_Routing``, kept as CSV so an implementer edits
them without touching code.

Where the files are:

* the packaged ones, in ``mappings/lookups/<Name>.csv`` (``EventType.csv``, ...);
* a site's own, in the folder named by the ``lookups.dir`` property. A file there named
  ``<Name>.csv`` or, as OIC exports it, ``OUTL-BRT-DACS_DRMS_<Name>.csv`` replaces the packaged
  lookup of that name as a whole (so a site can also remove a row).

The format is OIC's: a header row naming the two domains
(``DERMS_EventType,DACS_ProgramEventType``), then one row per value, the first column the hub's
input and the second what it is mapped to. Extra columns are ignored, a first row starting with
``DVM`` (an OIC export's banner) is skipped, and so are blank lines and lines starting with
``#``. Keys match case-insensitively, after trimming; values are used as written. A key given
twice is an error, as is a file without rows.

Each process reads the files once (:func:`load` is cached per folder).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["NAMES", "ORACLE_PREFIX", "PACKAGED", "DEFAULT_DACS", "Lookup", "Lookups",
           "LookupFileError", "UnmappedValue", "UnknownInstance", "load", "current"]

#: the packaged lookups
PACKAGED = Path(__file__).resolve().parent / "lookups"
#: how Oracle names the lookups of this integration
ORACLE_PREFIX = "OUTL-BRT-DACS_DRMS_"
#: every lookup the hub reads
NAMES = ("EventType", "AssetType", "AssetSpec", "EnrollmentStatus", "InstallationMethod",
         "AssetOwnership", "Routing")
#: the _Routing value that means "the DACS of the dacs.base.url property"
DEFAULT_DACS = "dacs.base.url"


class LookupFileError(ValueError):
    """A lookup CSV is missing or malformed; the message names the file and the line."""


class UnmappedValue(LookupError):
    """A value has no row in its lookup: a business error of that one message or item."""

    def __init__(self, lookup: str, value: str, field: str | None = None):
        self.lookup, self.value, self.field = lookup, value, field
        where = f"{field} " if field else ""
        super().__init__(f"{where}{value!r} has no row in lookup _{lookup}")


class UnknownInstance(UnmappedValue):
    """A drmsInstanceId that the _Routing lookup does not know."""

    def __init__(self, instance: str):
        super().__init__("Routing", instance, "drmsInstanceId")


@dataclass(frozen=True)
class Lookup:
    """One two-domain lookup: ``rows`` maps the case-folded key to ``(key, value)``."""

    name: str
    source: Path
    domains: tuple[str, str]
    rows: Mapping[str, tuple[str, str]]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.strip().casefold() in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self.rows.values())

    def get(self, key: str | None, default: str | None = None) -> str | None:
        """The mapped value of ``key``, or ``default`` when it has no row."""
        if key is None:
            return default
        row = self.rows.get(key.strip().casefold())
        return default if row is None else row[1]

    def map(self, key: str, field: str | None = None) -> str:
        """The mapped value of ``key``; :class:`UnmappedValue` (naming ``field``) when none."""
        value = self.get(key)
        if value is None:
            raise UnmappedValue(self.name, key, field)
        return value


def read_lookup(name: str, path: Path) -> Lookup:
    """Read one lookup CSV (see the module docstring for the format)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            lines = [(number, row) for number, row in enumerate(csv.reader(handle), start=1)
                     if row and any(cell.strip() for cell in row)
                     and not row[0].lstrip().startswith("#")]
    except OSError as exc:
        raise LookupFileError(f"{path}: cannot read lookup _{name}: {exc.strerror}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise LookupFileError(f"{path}: lookup _{name} is not a UTF-8 CSV: {exc}") from exc
    if lines and lines[0][1][0].strip().upper() == "DVM":
        lines = lines[1:]
    if not lines or len(lines[0][1]) < 2:
        raise LookupFileError(f"{path}: lookup _{name} needs a header row naming two domains")
    header = lines[0][1]
    rows: dict[str, tuple[str, str]] = {}
    for number, row in lines[1:]:
        if len(row) < 2:
            raise LookupFileError(f"{path}:{number}: lookup _{name}: expected key,value")
        key, value = row[0].strip(), row[1].strip()
        folded = key.casefold()
        if not key:
            raise LookupFileError(f"{path}:{number}: lookup _{name}: empty key")
        if folded in rows:
            raise LookupFileError(f"{path}:{number}: lookup _{name}: {key!r} is given twice")
        rows[folded] = (key, value)
    if not rows:
        raise LookupFileError(f"{path}: lookup _{name} has no rows")
    return Lookup(name, path, (header[0].strip(), header[1].strip()), rows)


class Lookups:
    """Every lookup, each from the site's folder when it has one, else the packaged file."""

    def __init__(self, site_dir: Path | None = None):
        if site_dir is not None and not site_dir.is_dir():
            # A typo in lookups.dir must not fall back to the packaged lookups unnoticed.
            raise LookupFileError(f"{site_dir}: the lookups folder does not exist")
        self.site_dir = site_dir
        self._tables = {name: read_lookup(name, self.path_of(name)) for name in NAMES}
        self._check_routing()

    def path_of(self, name: str) -> Path:
        """The file the lookup ``name`` is read from."""
        if self.site_dir is not None:
            for candidate in (f"{ORACLE_PREFIX}{name}.csv", f"{name}.csv"):
                path = self.site_dir / candidate
                if path.is_file():
                    return path
        return PACKAGED / f"{name}.csv"

    def __getitem__(self, name: str) -> Lookup:
        return self._tables[name]

    def map(self, name: str, key: str, field: str | None = None) -> str:
        """``self[name].map(key, field)``."""
        return self._tables[name].map(key, field)

    # -- _Routing ---------------------------------------------------------------------------------
    def dacs_base_url(self, drms_instance_id: str) -> str | None:
        """The DACS base URL for a DERMS instance: None means the ``dacs.base.url`` property.

        Raises :class:`UnknownInstance` when the instance has no row.
        """
        value = self._tables["Routing"].get(drms_instance_id)
        if value is None:
            raise UnknownInstance(drms_instance_id)
        if value in ("", DEFAULT_DACS):
            return None
        return value.rstrip("/")

    def knows_instance(self, drms_instance_id: str) -> bool:
        return drms_instance_id in self._tables["Routing"]

    def _check_routing(self) -> None:
        routing = self._tables["Routing"]
        for key, value in routing.rows.values():
            if value in ("", DEFAULT_DACS):
                continue
            parts = urlsplit(value)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise LookupFileError(
                    f"{routing.source}: lookup _Routing: {key}: expected an http(s) URL or "
                    f"{DEFAULT_DACS!r}, got {value!r}")


@functools.cache
def load(site_dir: str | None = None) -> Lookups:
    """The lookups of ``site_dir`` (over the packaged ones), read once per process."""
    return Lookups(Path(site_dir).expanduser().resolve() if site_dir else None)


def current() -> Lookups:
    """The lookups of this process: those of the ``lookups.dir`` property once the runtime is
    initialised, else the packaged ones (unit tests, tools)."""
    from hub import runtime

    try:
        config = runtime.get().config
    except RuntimeError:
        return load(None)
    return load(config.get("lookups.dir"))
