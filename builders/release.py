"""A release's integrity: its manifest (every file, size and sha256), checking a copy against it,
guarding a previous release from being replaced along with files it does not own, the atomic
swap into place, and the upload to the Hugging Face Hub."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator, Optional

from builders import __version__
from builders.errors import BuildError
from builders.workdir import STATE

MANIFEST = "manifest.json"
FORMAT = "corpus-builders release manifest 1"
#: Build intermediates (`--keep-work`), never part of a release.
WORK = "_work"
#: Files this small are compared by content when checking what a folder holds; bigger ones by size.
SMALL = 1 << 20


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
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
        if not isinstance(files, dict) or not all(isinstance(v, dict) and "size" in v and "sha256" in v for v in files.values()):
            raise ValueError("files must map paths to size and sha256")
    except (ValueError, KeyError, TypeError) as exc:
        raise BuildError(f"{path}: not a release manifest ({exc})") from None
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
