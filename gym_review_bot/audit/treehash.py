"""A directory's git tree id, computed from the files as they are on disk (no git needed).

It equals `git rev-parse HEAD:<dir>` when the checkout is clean; on a checkout with local changes it
tells those changes apart all the same, which is what a cache key needs. Links are hashed as links
(their target), never followed; empty directories are not part of a git tree and count for nothing.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

_CHUNK = 1 << 20


def _object_id(kind: bytes, data: bytes) -> bytes:
    return hashlib.sha1(kind + b" %d\0" % len(data) + data).digest()


def _blob_id(path: str, size: int) -> bytes:
    h = hashlib.sha1(b"blob %d\0" % size)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.digest()


def _tree_id(path: str) -> bytes | None:
    """The raw tree id of a directory, or None when it holds no file (git would not store it)."""
    entries: list[tuple[bytes, bytes, bytes]] = []  # (sort key, mode, id); directories sort as "name/"
    with os.scandir(path) as it:
        children = list(it)
    for child in children:
        name = os.fsencode(child.name)
        st = child.stat(follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            entries.append((name, b"120000", _object_id(b"blob", os.fsencode(os.readlink(child.path)))))
        elif stat.S_ISDIR(st.st_mode):
            sub = _tree_id(child.path)
            if sub is not None:
                entries.append((name + b"/", b"40000", sub))
        elif stat.S_ISREG(st.st_mode):
            mode = b"100755" if st.st_mode & stat.S_IXUSR else b"100644"
            entries.append((name, mode, _blob_id(child.path, st.st_size)))
    if not entries:
        return None
    entries.sort(key=lambda e: e[0])
    body = b"".join(mode + b" " + key.rstrip(b"/") + b"\0" + oid for key, mode, oid in entries)
    return _object_id(b"tree", body)


def tree_hash(root: Path, rel: str) -> str | None:
    """The git tree id (hex) of `root/rel`, or None when it is not a directory or holds no file."""
    path = root / rel
    if path.is_symlink() or not path.is_dir():
        return None
    raw = _tree_id(str(path))
    return raw.hex() if raw is not None else None
