"""Room on the disk before an HDF5 write: HDF5 cannot recover from a full disk midway.

Once a write of its own fails for lack of space, an HDF5 file can be neither flushed nor
closed (the library crashes as the process exits), so the writes that matter are measured
first: the free space of the filesystem and the process's file-size limit (RLIMIT_FSIZE).
"""

from __future__ import annotations

import errno
import os
import resource
from pathlib import Path

MARGIN = 128 * 1024  # HDF5's own metadata beside the bytes asked for
NO_SPACE = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)  # what a full disk or a size limit raises


def ensure_room(path: str | os.PathLike, needed: int) -> None:
    """Raise OSError (ENOSPC, or EFBIG for the file-size limit) unless `needed` more bytes fit
    in `path` (a file, or the folder it will be created in)."""
    path = Path(path)
    folder = next(p for p in (path, *path.parents) if p.is_dir())
    wanted = needed + MARGIN + needed // 4
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    if wanted > free:
        raise OSError(
            errno.ENOSPC, f"No space left on device ({_mib(free)} free, {_mib(wanted)} needed)", str(path)
        )
    limit, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    size = path.stat().st_size if path.is_file() else 0
    if limit != resource.RLIM_INFINITY and size + wanted > limit:
        raise OSError(
            errno.EFBIG, f"File too large (this process may write files of {_mib(limit)} at most)", str(path)
        )


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"
