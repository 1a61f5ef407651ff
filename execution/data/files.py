"""Files the service writes under ``$EXEC_HOME`` (reports, schedules, Data Docs): whole or not at all.

* :func:`write_text` writes a temporary file beside the target, flushes it to disk, then renames
  it over the target: a reader sees the old file or the new one, never half of one;
* :func:`replace_folder` builds a folder's new content in a temporary sibling and swaps it in only
  when the caller says the rest of the work (a database commit) succeeded;
* a write that fails (a full disk, a read-only folder) removes its temporary file or folder and
  raises :class:`WriteFailed` naming the path and the cause; the previous content is untouched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


class WriteFailed(RuntimeError):
    """A file or folder under EXEC_HOME could not be written; the previous content is unchanged."""

    def __init__(self, path: Path, cause: OSError) -> None:
        why = cause.strerror or str(cause)
        hint = " (the disk is full: free space under EXEC_HOME, then re-run)" if cause.errno == errno.ENOSPC else ""
        super().__init__(f"cannot write {path}: {why}{hint}; its previous content is unchanged")
        self.path, self.errno = path, cause.errno


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file, fsync, rename); returns ``path``."""
    path = Path(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        tmp = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise WriteFailed(path, exc) from exc
    return path


@contextlib.contextmanager
def replace_folder(target: Path) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``target`` to fill; on a clean exit it becomes ``target``.

    The old ``target`` (if any) is moved aside, the new one renamed in, the old one removed. If the
    body raises (or writing fails), the temporary folder is removed and ``target`` is left as it was.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    except OSError as exc:
        raise WriteFailed(target, exc) from exc
    try:
        yield staging
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise WriteFailed(target, exc) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.chmod(staging, 0o755)
    old = target.parent / f".{target.name}.old-{staging.name.rsplit('-', 1)[-1]}"
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
