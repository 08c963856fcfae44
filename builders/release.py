"""A release's integrity: its manifest (every file, size and sha256), checking a copy against it,
guarding a previous release from being replaced along with files it does not own, the atomic
swap into place, the upload to an fsspec URL (`publish.output: s3://...`), and the upload to the
Hugging Face Hub."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import re
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import Iterator, Optional

from builders import __version__, io
from builders.errors import BuildError
from builders.workdir import STATE, ResourceError

MANIFEST = "manifest.json"
FORMAT = "corpus-builders release manifest 1"
#: Build intermediates (`--keep-work`), never part of a release.
WORK = "_work"
#: Files this small are compared by content when checking what a folder holds; bigger ones by size.
SMALL = 1 << 20
#: In a URL output while an upload replaces its release (see `upload_to`): every version of every
#: file that may be there meanwhile, so a later build knows the half-replaced prefix for its own.
PUBLISHING = ".publishing.json"
#: Where a URL output's release is assembled when the config sets no `workdir` (current directory).
STAGING = ".corpus-staging"


def release_files(folder: Path) -> Iterator[str]:
    """Paths (POSIX, relative) of every file of a release folder, except the manifest and _work/."""
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        if rel == Path("."):
            dirs[:] = [d for d in dirs if d != WORK]
        dirs.sort()
        for name in sorted(files):
            path = (rel / name).as_posix()
            if path != MANIFEST:
                yield path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, name: str = "") -> dict:
    """OUT/manifest.json: every file of the release with its size and sha256."""
    files = {}
    for rel in release_files(folder):
        path = folder / rel
        files[rel] = {"size": path.stat().st_size, "sha256": sha256(path)}
    manifest = {"format": FORMAT, "name": name, "builder": f"corpus-builders {__version__}", "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise BuildError(f"{folder} is not a folder")
    if not path.is_file():
        raise BuildError(f"{folder} has no {MANIFEST}: not a release (or one built before manifests)")
    return _parse_manifest(path.read_bytes(), path)


def _parse_manifest(data: bytes, where) -> dict:
    try:
        manifest = json.loads(data.decode("utf-8"))
        files = manifest["files"]
        if not isinstance(files, dict) or not all(isinstance(v, dict) and "size" in v and "sha256" in v for v in files.values()):
            raise ValueError("files must map paths to size and sha256")
    except (ValueError, KeyError, TypeError) as exc:
        raise BuildError(f"{where}: not a release manifest ({exc})") from None
    return manifest


def verify(folder: Path) -> tuple[list[str], list[str], int]:
    """Check every file the manifest lists: returns (problems, extra files, files checked).
    A problem names the file: missing, a different size, or a different sha256."""
    manifest = read_manifest(folder)
    problems = []
    for rel, expected in sorted(manifest["files"].items()):
        path = folder / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != expected["size"]:
            problems.append(f"{rel}: {path.stat().st_size:,} bytes, the manifest says {expected['size']:,}")
        elif sha256(path) != expected["sha256"]:
            problems.append(f"{rel}: sha256 differs from the manifest's")
    extra = [rel for rel in release_files(folder) if rel not in manifest["files"] and not _hub_file(rel)]
    return problems, extra, len(manifest["files"])


def _hub_file(rel: str) -> bool:
    """Files a Hub download adds beside the release (git attributes, the download cache)."""
    return rel == ".gitattributes" or rel.startswith(".cache/")


def foreign_file(output: Path) -> Optional[str]:
    """A file in `output` that is not part of the release its manifest describes (or has changed
    since): the reason the folder may not be replaced without --overwrite. None when it may."""
    if not output.is_dir():
        return output.name
    try:
        listed = read_manifest(output)["files"]
    except BuildError:
        listed = None
    for rel in release_files(output):
        if listed is None:
            return rel
        expected = listed.get(rel)
        path = output / rel
        if expected is None or path.stat().st_size != expected["size"]:
            return rel
        if expected["size"] <= SMALL and sha256(path) != expected["sha256"]:
            return rel
    return None


def check_output(output: Path, overwrite: bool = False) -> None:
    """Refuse to replace a folder holding anything but a previous release's files, unless overwrite."""
    if overwrite or not (output.exists() or output.is_symlink()):
        return
    if output.is_dir() and not any(output.iterdir()):
        return
    found = foreign_file(output)
    if found is None:
        return
    if not output.is_dir():
        raise BuildError(f"publish.output: {output} is not a previous build: it is a file; remove it or pass --overwrite")
    why = "which its manifest.json does not list or lists with other contents" if (output / MANIFEST).exists() \
        else "and no manifest.json of a release"
    raise BuildError(f"publish.output: {output} is not a previous build: it holds {found}, {why}; "
                     "move that away, choose another folder or pass --overwrite")


def fsync_tree(folder: Path) -> None:
    """Flush every file and folder below `folder` (and the folder itself) to disk; a top-level
    _work/ (build intermediates, not part of the release) is left alone."""
    for root, dirs, files in os.walk(folder):
        if root == str(folder):
            dirs[:] = [d for d in dirs if d != WORK]
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(root)


def _fsync_dir(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where not supported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd = -100
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0
    return done


def remove_work(folder: Path) -> None:
    """`folder`'s `_work`: the folder itself, or, when the build kept its work elsewhere
    (`workdir`), the link and the work folder it points to; only a folder holding a build's state
    file is followed into, never whatever else a link might name."""
    link = Path(folder) / WORK
    if link.is_symlink():
        target = Path(os.path.realpath(link))
        if target.is_dir() and (target / STATE).is_file():
            shutil.rmtree(target, ignore_errors=True)
        link.unlink()
    else:
        shutil.rmtree(link, ignore_errors=True)


def remove_tree(folder: Path) -> None:
    """Remove a build or release folder with its work, wherever that is (`remove_work`)."""
    remove_work(folder)
    shutil.rmtree(folder, ignore_errors=True)


def swap_into_place(staging: Path, output: Path, overwrite: bool = False) -> None:
    """Make the finished `staging` folder the release at `output`: flushed to disk, then one
    atomic exchange of the two folders where the OS has it (else two renames), the old one removed.
    A reader, or a build killed at any point, sees the old release or the new one, never a mix."""
    check_output(output, overwrite)  # again: files may have been added while the build ran
    fsync_tree(staging)
    if output.is_dir() and not output.is_symlink() and _exchange(staging, output):
        _fsync_dir(output.parent)
        remove_tree(staging)  # now the previous release
        return
    old = None
    if output.exists() or output.is_symlink():
        old = output.parent / f".{output.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(output, old)
    os.rename(staging, output)
    _fsync_dir(output.parent)
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            remove_tree(old)
        else:
            old.unlink()


def hf_api():
    """The Hub client (a function, so tests can put a recording fake in its place)."""
    from huggingface_hub import HfApi

    return HfApi()


def upload(folder: Path, repo: str, private: bool = False, api=None) -> str:
    """Upload a verified release to the dataset repo `repo` in one commit: every manifest file,
    and remote files the release no longer has are deleted in that same commit. Token from the
    environment (HF_TOKEN) or a saved `huggingface-cli login`. Returns the commit URL."""
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise BuildError(f"--to-hub: {repo!r} is not a repository id such as user/news-corpus")
    problems, _, count = verify(folder)
    if problems:
        raise BuildError(f"{folder} fails verification ({problems[0]}{' and more' if len(problems) > 1 else ''}); "
                         "rebuild it before uploading")
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise BuildError("no Hugging Face token: set HF_TOKEN (a write token) or run `huggingface-cli login`")
    api = api or hf_api()
    manifest = read_manifest(folder)
    try:
        api.create_repo(repo_id=repo, repo_type="dataset", private=private, exist_ok=True, token=token)
        info = api.upload_folder(
            folder_path=str(folder), repo_id=repo, repo_type="dataset", token=token,
            allow_patterns=[MANIFEST, *manifest["files"]], delete_patterns=["*"],
            commit_message=f"Release {manifest.get('name') or folder.name}: {count} files ({manifest['builder']})",
        )
    except Exception as exc:  # network, authentication, permissions: one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BuildError(f"upload to {repo} failed: {first}") from None
    return str(getattr(info, "commit_url", info))


# ---------------------------------------------------------------- URL outputs (fsspec)
#
# An object store has no rename, let alone an atomic one. A release at a URL is therefore assembled
# in a local staging folder exactly as a local one, then uploaded in this order: PUBLISHING is
# written, the old manifest.json is deleted (from then on the prefix is no release), every file
# of the new release is uploaded (each object whole or absent), files the new release does not
# have are deleted, the new manifest.json is uploaded last, and PUBLISHING is deleted. A reader
# that finds manifest.json finds a complete release, exactly the files it lists; while a release is
# being replaced there is no manifest.json and the prefix holds a mix of the two releases' files
# (a reader that took the old manifest.json before may get a new file under an old name: sizes
# and sha256 tell). A build that fails or is killed mid-upload leaves that state; the next build
# of the URL recognises it by PUBLISHING and replaces it.


def is_url(output) -> bool:
    return io.is_url(str(output))


def staging_root(workdir: Optional[str]) -> Path:
    """Where a URL output's release is assembled: `workdir`, else ./.corpus-staging."""
    return Path(workdir) if workdir else Path.cwd() / STAGING


def local_stand_in(url: str, workdir: Optional[str]) -> Path:
    """The local path that stands for a URL output: the build's lock (`.NAME.lock`) and staging
    folders (`.NAME.building-*`) are beside it, as they are beside a local output. Its name is the
    URL's last part and a hash of the whole URL, so every URL has its own."""
    url = url.rstrip("/")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", url.rsplit("/", 1)[-1]).strip("._") or "output"
    return staging_root(workdir) / f"{name}-{hashlib.sha256(url.encode('utf-8')).hexdigest()[:12]}"


def _remote(url: str):
    fs, root = io.filesystem(url)
    return fs, root.rstrip("/")


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _remote_files(fs, root: str, url: str) -> dict[str, int]:
    """Every file below the URL (relative POSIX path -> size); {} when there is nothing."""
    fs.invalidate_cache(root)  # a listing cached by an earlier build in this process (s3fs, gcsfs) is stale
    if not fs.exists(root):
        return {}
    if not fs.isdir(root):
        raise BuildError(f"publish.output: {url} is not a previous build: it is a file; remove it or pass --overwrite")
    found = fs.find(root, detail=True)
    prefix = root + "/"
    return {path[len(prefix):]: int(info.get("size") or 0) for path, info in sorted(found.items())
            if path.startswith(prefix) and info.get("type", "file") == "file"}


def _remote_json(fs, path: str) -> Optional[dict]:
    try:
        data = json.loads(fs.cat_file(path).decode("utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _versions(fs, root: str) -> Optional[dict[str, list]]:
    """What the URL may legitimately hold: the files its manifest lists and, during (or after an
    interrupted) upload, every version PUBLISHING names. None when neither is there (or readable)."""
    manifest = _remote_json(fs, f"{root}/{MANIFEST}")
    publishing = _remote_json(fs, f"{root}/{PUBLISHING}")
    if not manifest and not publishing:  # neither there, or neither readable
        return None
    versions: dict[str, list] = {}
    listed = (manifest or {}).get("files")
    for rel, entry in listed.items() if isinstance(listed, dict) else ():
        if isinstance(entry, dict):
            versions.setdefault(rel, []).append(entry)
    named = (publishing or {}).get("files")
    for rel, entries in named.items() if isinstance(named, dict) else ():
        if isinstance(entries, list):
            versions.setdefault(rel, []).extend(e for e in entries if isinstance(e, dict))
    return versions


def _foreign_remote(fs, root: str, files: dict[str, int]) -> Optional[str]:
    versions = _versions(fs, root)
    for rel, size in files.items():
        if rel in (MANIFEST, PUBLISHING) and versions is not None:
            continue
        if versions is None:
            return rel
        same_size = [v for v in versions.get(rel, ()) if v.get("size") == size]
        if not same_size:
            return rel
        if size <= SMALL:
            digest = hashlib.sha256(fs.cat_file(f"{root}/{rel}")).hexdigest()
            if not any(v.get("sha256") == digest for v in same_size):
                return rel
    return None


def check_remote_output(url: str, overwrite: bool = False) -> None:
    """`check_output` for a URL: refuse to replace anything but a previous release (or one whose
    upload did not finish) unless overwrite. A URL that cannot be read fails in one line."""
    try:
        fs, root = _remote(url)
        files = _remote_files(fs, root, url)
        found = None if overwrite or not files else _foreign_remote(fs, root, files)
    except BuildError:
        raise
    except Exception as exc:  # credentials, a missing bucket, the network: one line
        raise BuildError(f"publish.output: cannot read {url}: {type(exc).__name__}: {_first(exc)}") from None
    if found is None:
        return
    why = "which its manifest.json does not list or lists with other contents" if MANIFEST in files \
        else "and no manifest.json of a release"
    raise BuildError(f"publish.output: {url} is not a previous build: it holds {found}, {why}; "
                     "move that away, choose another output or pass --overwrite")


def upload_to(staging: Path, url: str, overwrite: bool = False) -> list[str]:
    """Publish the finished release in `staging` to the URL (see the order above); returns the
    URLs of its files. A failure is a ResourceError (one line): the staging folder is kept, and
    the build's `--resume` uploads again."""
    check_remote_output(url, overwrite)  # again: files may have been added while the build ran
    new = read_manifest(staging)["files"]
    try:
        fs, root = _remote(url)
        present = _remote_files(fs, root, url)
        versions = _versions(fs, root) or {}
        for rel, entry in new.items():
            versions.setdefault(rel, []).append({"size": entry["size"], "sha256": entry["sha256"]})
        fs.pipe_file(f"{root}/{PUBLISHING}", (json.dumps({
            "format": "corpus-builders upload in progress 1", "builder": f"corpus-builders {__version__}",
            "host": socket.gethostname(), "pid": os.getpid(), "started": time.time(),
            "files": versions}, indent=1) + "\n").encode("utf-8"))
        if MANIFEST in present:
            fs.rm_file(f"{root}/{MANIFEST}")
        for rel in new:
            _put(fs, staging / rel, f"{root}/{rel}")
        for rel in present:
            if rel not in new and rel not in (MANIFEST, PUBLISHING):
                fs.rm_file(f"{root}/{rel}")
        _put(fs, staging / MANIFEST, f"{root}/{MANIFEST}")
        fs.rm_file(f"{root}/{PUBLISHING}")
    except Exception as exc:
        raise ResourceError(f"uploading the release to {url} failed: {type(exc).__name__}: {_first(exc)}; "
                            f"{url} holds no complete release until a build of it succeeds") from exc
    return [f"{url.rstrip('/')}/{rel}" for rel in new]


def _put(fs, local: Path, remote: str) -> None:
    try:
        fs.put_file(str(local), remote)
    except FileNotFoundError:  # a filesystem with real folders wants the parent first
        fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(local), remote)


def verify_url(url: str) -> tuple[list[str], list[str], int]:
    """`verify` for a release at a URL (see `upload_to`): every file its manifest.json lists is
    there with its size and sha256. No manifest: no complete release (one being uploaded, or not one)."""
    try:
        fs, root = _remote(url)
        try:
            data = fs.cat_file(f"{root}/{MANIFEST}")
        except FileNotFoundError:
            if fs.exists(f"{root}/{PUBLISHING}"):
                raise BuildError(f"{url} has no {MANIFEST}: a release is being uploaded there, or its upload did not "
                                 "finish") from None
            raise BuildError(f"{url} has no {MANIFEST}: not a release") from None
        manifest = _parse_manifest(data, f"{url.rstrip('/')}/{MANIFEST}")
        present = _remote_files(fs, root, url)
        problems = []
        for rel, expected in sorted(manifest["files"].items()):
            if rel not in present:
                problems.append(f"{rel}: missing")
            elif present[rel] != expected["size"]:
                problems.append(f"{rel}: {present[rel]:,} bytes, the manifest says {expected['size']:,}")
            else:
                digest = hashlib.sha256()
                with fs.open(f"{root}/{rel}", "rb") as fh:
                    while block := fh.read(1 << 20):
                        digest.update(block)
                if digest.hexdigest() != expected["sha256"]:
                    problems.append(f"{rel}: sha256 differs from the manifest's")
    except BuildError:
        raise
    except Exception as exc:
        raise BuildError(f"cannot read {url}: {type(exc).__name__}: {_first(exc)}") from None
    extra = [rel for rel in present if rel not in manifest["files"] and rel not in (MANIFEST, PUBLISHING)]
    return problems, extra, len(manifest["files"])
