"""The one way kpitree writes files: atomically, and only where the user said.

What belongs here: writing one file (into a temporary file beside it, then ``os.replace``, so a
reader never sees half a file and a full disk leaves the old file as it was), writing a folder
of outputs (into a temporary folder beside the target, renamed into place only once every file
is written, so a failure part-way leaves the previous pack untouched), and the check that a
file name made from data stays inside the folder the user gave. What does not: what is written
(the report, the images, the charts, the generator's tables) or how a name is made safe
(:func:`kpitree.core.safety.safe_filename`).

Every writer in the package — the report, the images and charts, the command line's outputs and
the generator — goes through these functions. A failure is a :class:`~kpitree.core.errors.
WriteError` naming the path and the reason (one line from the CLI, exit 2).

Pure standard library.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from kpitree.core.errors import WriteError

__all__ = ["WriteError", "inside", "output_folder", "staged_folder", "write_bytes",
           "write_folder", "write_text", "write_with"]


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def output_folder(folder: str | Path, *, option: str = "--out") -> Path:
    """The folder the user gave, refused when it is empty text (``--out ''``).

    Raises:
        WriteError: the name is empty, or names a file that is not a folder.
    """
    text = str(folder)
    if not text.strip():
        raise WriteError(f"{option} '': give a folder name (use '.' for the current folder)")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise WriteError(f"{option} {path}: exists and is not a folder; choose another name")
    return path


def inside(folder: str | Path, name: str) -> Path:
    """``folder / name``, refused unless it is a plain file name directly inside ``folder``.

    Raises:
        WriteError: ``name`` is empty, absolute, has a separator or is ``.``/``..``.

    Example:
        >>> str(inside("out", "arpu_bridge.png"))
        'out/arpu_bridge.png'
    """
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name \
            or Path(name).is_absolute() or Path(name).name != name:
        raise WriteError(f"refusing to write '{name}': file names made from data must stay "
                         f"inside {folder}")
    return Path(folder) / name


def write_with(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Let ``write(temporary_path)`` write the file, then move it onto ``path`` atomically.

    For libraries that write to a path themselves (Parquet). The temporary file sits beside
    ``path`` (same file system, so the rename is atomic) and is removed on failure.

    Raises:
        WriteError: the folder does not exist or the write fails (the old file is kept).
    """
    target = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                             dir=target.parent if str(target.parent) else ".")
        os.close(handle)
    except OSError as exc:
        raise WriteError(f"cannot write {target}: {_reason(exc)}") from None
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise WriteError(f"cannot write {target}: {_reason(exc)}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return target


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file beside it, then ``os.replace``).

    Raises:
        WriteError: the folder does not exist, or the disk is full or read-only; the previous
            file, if any, is left as it was.
    """
    def write(temporary: Path) -> None:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    return write_with(path, write)


def write_text(path: str | Path, text: str) -> Path:
    """:func:`write_bytes` of ``text`` encoded as UTF-8."""
    return write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def staged_folder(folder: str | Path) -> Iterator[Path]:
    """A temporary folder beside ``folder`` to write into; moved into place on success.

    Inside the ``with`` block, write the outputs into the yielded folder. When the block ends
    normally every file in it is moved into ``folder`` (created if needed; other files there are
    kept) by renames, which need no space; when it raises, the temporary folder is removed and
    ``folder`` is untouched.

    Raises:
        WriteError: the parent folder cannot be written.
    """
    target = Path(folder)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name or 'out'}.", suffix=".tmp",
                                        dir=parent))
    except OSError as exc:
        raise WriteError(f"cannot write into {target}: {_reason(exc)}") from None
    try:
        yield staging
        if not target.exists():
            os.chmod(staging, 0o777 & ~_umask())
            os.replace(staging, target)
            return
        if not target.is_dir():
            raise WriteError(f"{target}: exists and is not a folder; choose another name")
        for entry in sorted(staging.rglob("*")):
            destination = target / entry.relative_to(staging)
            if entry.is_dir():
                destination.mkdir(exist_ok=True)
            else:
                os.chmod(entry, 0o666 & ~_umask())
                os.replace(entry, destination)
    except OSError as exc:
        if isinstance(exc, WriteError):
            raise
        raise WriteError(f"cannot write into {target}: {_reason(exc)}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_folder(folder: str | Path, files: Mapping[str, bytes]) -> list[Path]:
    """Write ``files`` (plain name → bytes) into ``folder`` all at once; return their paths.

    Every file is first written into a temporary folder beside ``folder``; only when all of them
    are written are they renamed into place. A failure (a full disk, a bad name) leaves the
    previous files of ``folder`` untouched.

    Raises:
        WriteError: a name that is not a plain file name, or the folder cannot be written.
    """
    for name in files:
        inside(folder, name)
    with staged_folder(folder) as staging:
        for name, data in files.items():
            with open(staging / name, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
    return [Path(folder) / name for name in files]


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once: files get the permissions a plain ``open`` would give


def _umask() -> int:
    return _UMASK
