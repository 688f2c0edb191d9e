"""Listing the files of a corpus folder, with a record for everything that is not listed.

:func:`scan_tree` walks a folder the way every preparer needs it:

* symlinked sub-folders are followed wherever they are (identity folders, ``voices/``
  sub-folders, deeper), so a layout built from links reads like the same layout built from
  copies; a link that leads back to one of its own parent folders (a loop) is not followed and is
  recorded (``symlink_loop``);
* a file or folder whose name is not valid UTF-8 cannot be written to a manifest (parquet strings
  are UTF-8): it is recorded (``bad_name``, the name shown with ``\\x..`` escapes) and the rest of
  the corpus is listed;
* hidden entries (``.name``) are not listed and are recorded (``hidden``; a hidden folder once,
  without descending: ``.git`` and the like would otherwise flood the record);
* a folder that cannot be listed (permissions, I/O error) is recorded (``permission`` /
  ``unreadable``) and the walk continues.

Every record is ``{"path", "reason", "detail"}`` with a printable path, so a preparer can write them
to its skip report beside the manifest and nothing under the corpus folder disappears unexplained.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["TreeScan", "item_key", "printable", "scan_tree", "valid_name"]

#: characters the protocol files cannot hold inside an id (TSV fields, comma-joined candidate lists)
_ID_ESCAPES = {"%": "%25", ",": "%2C", "\t": "%09", "\n": "%0A", "\r": "%0D"}


def item_key(text: str) -> str:
    """``text`` usable inside an item id: ``%``, ``,``, tab and line breaks percent-encoded (the path column
    keeps the real file name; ``a,b.wav`` becomes ``a%2Cb.wav`` in the id only)."""
    return "".join(_ID_ESCAPES.get(ch, ch) for ch in text)


def valid_name(name: str) -> bool:
    """True when ``name`` (as ``os`` returns it, undecodable bytes as surrogates) is valid UTF-8 text."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(path: str | Path) -> str:
    """``path`` as UTF-8-safe text: bytes that are not UTF-8 shown as ``\\xNN`` escapes."""
    return os.fsencode(str(path)).decode("utf-8", errors="backslashreplace")


@dataclass
class TreeScan:
    """Files found under a folder (sorted, logical paths through any links) and the skip records."""

    root: Path
    files: list[Path] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def skip(self, path: str | Path, reason: str, detail: str) -> None:
        self.skipped.append({"path": printable(path), "reason": reason, "detail": detail})


def _identity(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


def scan_tree(root: str | Path) -> TreeScan:
    """Every regular, non-hidden file under ``root`` (following symlinked folders) and what was not listed.

    Raises ``FileNotFoundError`` / ``NotADirectoryError`` naming ``root`` when it is not a folder.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"folder not found: {printable(root)}")
    if not root.is_dir():
        raise NotADirectoryError(f"{printable(root)}: not a folder")
    scan = TreeScan(root)
    _walk(root, (), scan, bad_parent=False)
    scan.files.sort()
    return scan


def _walk(folder: Path, ancestors: tuple[tuple[int, int], ...], scan: TreeScan, bad_parent: bool) -> None:
    try:
        here = _identity(folder.stat())
    except OSError as exc:
        scan.skip(folder, "unreadable", f"cannot open folder ({type(exc).__name__}: {exc.strerror or exc})")
        return
    if here in ancestors:
        target = printable(os.path.realpath(folder))
        scan.skip(folder, "symlink_loop", f"link back to its own parent folder {target}; not followed")
        return
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except PermissionError:
        scan.skip(folder, "permission", "folder cannot be listed (permission denied); its files are not listed")
        return
    except OSError as exc:
        scan.skip(folder, "unreadable", f"folder cannot be listed ({type(exc).__name__}: {exc.strerror or exc})")
        return
    for entry in entries:
        path = folder / entry.name
        bad = bad_parent or not valid_name(entry.name)
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError:
            is_dir = False
        if entry.name.startswith("."):
            kind = "folder" if is_dir else "file"
            scan.skip(path, "hidden", f"hidden {kind}; not listed")
            continue
        if is_dir:
            _walk(path, (*ancestors, here), scan, bad)
        elif bad:
            scan.skip(
                path, "bad_name", "file name is not valid UTF-8 and cannot be stored in a manifest; rename the file"
            )
        else:  # regular files, and links to files (or broken links: extract then records them as missing)
            scan.files.append(path)
