"""Files the suite writes are complete or absent: a temporary file in the same folder, then a
rename over the target (``os.replace``, atomic on POSIX and Windows). A full disk or a kill
mid-write leaves the earlier file as it was. Output paths are checked before any work, so a
bad one is a one-line error at the start instead of a lost run at the end.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

TEMP_PREFIX = ".accelbench-tmp-"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Write ``path`` through a temporary file beside it; renamed into place on success only."""
    target = real_target(path)
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _keep_mode(target, temp)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_writer(path) as fh:
        fh.write(data)


def _keep_mode(target: Path, temp: str) -> None:
    """mkstemp makes 0600 files: give the new file the old one's mode, or the usual 0644-ish."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    with contextlib.suppress(OSError):
        os.chmod(temp, mode)


def writable_folder_problem(folder: Path) -> str | None:
    """Why files cannot be created in ``folder`` (missing, not a folder, read-only), or None."""
    if not folder.exists():
        return f"folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder} is read-only"
    return None


# What a path that is not a regular file is, for the one line that refuses it.
SPECIAL_FILES = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for is_kind, name in SPECIAL_FILES if is_kind(mode)), "a special file")


def _name_max(path: Path) -> int:
    """The longest file name the file system of ``path`` (or its nearest folder) allows."""
    for folder in (path, *path.parents):
        with contextlib.suppress(OSError, ValueError):
            return os.pathconf(folder, "PC_NAME_MAX")
    return 255


def _unusable_path(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        longest = max(len(part) for part in path.parts)
        return (
            f"file name too long ({longest} characters; "
            f"this file system allows {_name_max(path.parent)})"
        )
    return f"cannot use {path}: {_reason(exc)}"


STANDARD_STREAMS = ((0, "standard input"), (1, "standard output"), (2, "standard error"))


def _standard_stream(found: os.stat_result) -> str | None:
    """Which of this process's standard streams ``found`` is (``/dev/stdout``, or the file
    the shell redirected it to), or None."""
    for fd, name in STANDARD_STREAMS:
        with contextlib.suppress(OSError):
            if os.path.samestat(found, os.fstat(fd)):
                return name
    return None


def output_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be written as a file: a folder, not a regular file (a FIFO, a
    device, a link to one, /dev/stdout), a standard stream, a name too long, read-only, or
    its folder. A link to a regular file is written through, at its target."""
    try:
        found: os.stat_result | None = path.stat()  # follows links: what a write reaches
    except (FileNotFoundError, NotADirectoryError):
        if path.is_symlink():
            return f"{path} is a link to nothing, not a regular file"
        found = None
    except OSError as exc:
        return _unusable_path(path, exc)
    if found is not None:
        problem = _existing_file_problem(path, found)
        if problem:
            return problem
    target = real_target(path)
    return writable_folder_problem(target.parent if str(target.parent) else Path("."))


def _existing_file_problem(path: Path, found: os.stat_result) -> str | None:
    if stat.S_ISDIR(found.st_mode):
        return f"{path} is a folder, not a file"
    if not stat.S_ISREG(found.st_mode):
        return f"{path} is {_kind(found.st_mode)}, not a regular file"
    stream = _standard_stream(found)
    if stream:
        return f"{path} is this program's {stream}, not a file of its own"
    if not os.access(path, os.W_OK) and os.name != "nt":
        # os.replace needs only the folder to be writable, but a read-only file says
        # "do not overwrite me": respect it.
        return f"{path} is read-only"
    return None


def real_target(path: str | os.PathLike[str]) -> Path:
    """Where a write to ``path`` lands: through its links (a rename would replace the link)."""
    return Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)


def creatable_folder_problem(folder: Path) -> str | None:
    """Why ``folder`` can neither be used nor created (mkdir -p), or None."""
    if folder.exists():
        return writable_folder_problem(folder)
    for parent in folder.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, not a folder"
            if not os.access(parent, os.W_OK | os.X_OK):
                return f"folder {parent} is read-only"
            return None
    return None


def replace_folder(out: Path, build: Callable[[Path], None]) -> None:
    """Build a new ``out`` in a temporary folder beside it, then swap it in whole, so nothing
    of an earlier ``out`` stays beside the new one. On any failure the earlier ``out`` is
    untouched. The caller checks first that ``out`` holds nothing it must keep.
    """
    parent = out.parent
    parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=parent))
    try:
        build(temp)
        os.chmod(temp, 0o777 & ~_umask())
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=parent))
            os.rmdir(old)
            os.rename(out, old)
            try:
                os.rename(temp, out)
            except OSError:
                os.rename(old, out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(temp, out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask
