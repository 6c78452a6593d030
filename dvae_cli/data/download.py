"""Downloads that are never used half-finished, and archive extraction.

A download goes to ``<file>.part``; an interrupted one is resumed with an HTTP
Range request when the server allows it (else restarted), checked against its MD5
when one is published, and only then renamed to its final name. So a file with the
final name is always complete.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from dvae_cli.errors import DatasetUnavailableError

#: Set to 1 to never try the network (clusters, CI): missing files are an error at once.
OFFLINE_ENV = "DVAE_OFFLINE"
TIMEOUT_S = 30
CHUNK = 1 << 20

Progress = Callable[[int, int], None]  # (bytes done, bytes total or 0)


class DownloadError(Exception):
    """A download failed (network, HTTP error, checksum); the message says which."""


def offline() -> bool:
    """Whether ``$DVAE_OFFLINE`` forbids downloads."""
    return os.environ.get(OFFLINE_ENV, "") not in ("", "0")


def md5sum(path: Path) -> str:
    """The MD5 hex digest of a file."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: Path, md5: str | None = None, progress: Progress | None = None,
             timeout: float = TIMEOUT_S) -> Path:
    """Download `url` to `dest` (resuming ``dest.part`` if present).

    Returns:
        `dest`, complete and checked.

    Raises:
        DownloadError: on a network or HTTP error, or if the MD5 does not match (the
            partial file is then removed so the next attempt starts afresh).
    """
    if offline():
        raise DownloadError(f"downloads are disabled (${OFFLINE_ENV}=1)")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    done = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "dvae"})
    if done:
        request.add_header("Range", f"bytes={done}-")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if done and response.status != 206:   # the server ignored the range: start over
                done = 0
            length = response.headers.get("Content-Length")
            total = done + int(length) if length and length.isdigit() else 0
            with open(part, "ab" if done else "wb") as handle:
                for block in iter(lambda: response.read(CHUNK), b""):
                    handle.write(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
        if total and done < total:
            raise DownloadError(f"{url}: the connection closed after {done:,} of {total:,} bytes; "
                                f"run again to resume ({part} is kept)")
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and part.is_file():   # range not satisfiable: the part is complete
            pass
        else:
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{url}: {reason}") from None
    if md5 is not None:
        found = md5sum(part)
        if found != md5:
            part.unlink()
            raise DownloadError(f"{url}: checksum mismatch (MD5 {found}, expected {md5}); removed, "
                                "try again")
    os.replace(part, dest)
    return dest


def extract(archive: Path, dest_dir: Path) -> None:
    """Extract a zip or tar archive into `dest_dir` (via a temporary folder, then rename).

    Members that would land outside `dest_dir`, and tar members other than files and
    folders (links, devices), are refused.

    Raises:
        DatasetUnavailableError: naming the archive, if it is damaged, not a zip or
            tar archive, or holds a refused member.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    tmp = dest_dir.with_name(dest_dir.name + ".extracting")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        try:
            _extract_into(archive, tmp)
        except (DownloadError, tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
                NotImplementedError, RuntimeError) as exc:  # RuntimeError: an encrypted zip member
            lines = str(exc).strip().splitlines()
            reason = lines[0].rstrip(":") if lines else type(exc).__name__
            raise DatasetUnavailableError(f"cannot extract {archive}: {reason}; delete it and place the "
                                          "official file again") from None
        dest_dir.mkdir(parents=True, exist_ok=True)
        for entry in tmp.iterdir():
            target = dest_dir / entry.name
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            os.replace(entry, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _extract_into(archive: Path, folder: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            for name in zipped.namelist():
                _check_member(folder, name)
            zipped.extractall(folder)
    else:
        with tarfile.open(archive) as tarred:
            for member in tarred.getmembers():
                _check_member(folder, member.name)
                if not (member.isfile() or member.isdir()):
                    raise DownloadError(f"refusing the member {member.name!r} (not a file or a folder)")
            tarred.extractall(folder)


def _check_member(root: Path, name: str) -> None:
    target = (root / name).resolve()
    if root.resolve() not in target.parents and target != root.resolve():
        raise DownloadError(f"the member {name!r} would be written outside the folder")
