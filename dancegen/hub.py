"""Checkpoints on the Hugging Face Hub: ``hf://ORG/NAME[@REVISION]`` wherever a checkpoint folder is accepted.

:func:`resolve_checkpoint` turns a checkpoint spec into a local folder. A plain path is returned as given (``~``
expanded); an ``hf://`` spec is fetched with ``huggingface_hub.snapshot_download`` into Hugging Face's own cache
(``HF_HOME`` / ``HF_HUB_CACHE``; once, later runs use the cache), asking only for :data:`ALLOW_PATTERNS`
(``config.json``, ``*.safetensors``, the model card and text files): a pickle (``*.bin``, ``*.pt``, ``*.pkl``,
``*.ckpt``) in the repository is never downloaded, and never used when a cache holds one.

Hugging Face's cache keeps each file once in ``blobs/`` and links it from ``snapshots/<commit>/``. A dancegen
checkpoint folder must not contain symlinks leading out of it (see :mod:`dancegen.checkpoint.paths`), so the
snapshot's allowed files are presented as a folder of hard links (copies where the file system has none) under
``$DANCEGEN_CACHE/hub/ORG--NAME/<commit>/``; the weights take no extra space. Every link is checked to lead into
the repository's own ``blobs/`` folder.

``huggingface_hub`` is an optional dependency (``pip install 'gcdance[hub]'``), imported only for ``hf://`` specs.
Without network (or with ``HF_HUB_OFFLINE=1``) a cached snapshot is used; otherwise one
:class:`~dancegen.errors.DancegenError` line says how to get the checkpoint.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from pathlib import Path

from .errors import DancegenError, UnsafeFileError

#: What ``snapshot_download`` fetches (and what ``dancegen export-checkpoint`` writes): no pickle ever.
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.md", "*.txt"]
SCHEME = "hf://"
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}"
# "hf:/" too: a spec that went through pathlib (a Path-typed option) has lost one slash.
HUB_SPEC = re.compile(rf"^hf:/{{1,2}}(?P<repo>{_NAME}/{_NAME})(?:@(?P<rev>[^\s@]+))?/?$")
_INSTALL = "pip install 'gcdance[hub]'"


def is_hub_spec(spec: str | Path | None) -> bool:
    """Whether ``spec`` names a Hub checkpoint (``hf://…``)."""
    return spec is not None and str(spec).startswith("hf:/")


def parse_hub_spec(spec: str | Path) -> tuple[str, str | None]:
    """``hf://ORG/NAME[@REV]`` → ``("ORG/NAME", REV or None)``; one :class:`DancegenError` line otherwise."""
    text = str(spec)
    m = HUB_SPEC.match(text)
    if m is None or ".." in m["repo"] or m["repo"].endswith((".", "-")):
        raise DancegenError(f"checkpoint {text!r}: expected hf://ORG/NAME or hf://ORG/NAME@REVISION (a branch, tag "
                            "or commit)")
    return m["repo"], m["rev"]


def resolve_checkpoint(spec: str | Path) -> Path:
    """The local checkpoint folder ``spec`` names: ``hf://ORG/NAME[@REV]`` downloaded (or found in the cache, see
    the module doc), anything else a local path (``~`` expanded, not checked here: see
    :func:`dancegen.checkpoint.check_checkpoint`)."""
    if not is_hub_spec(spec):
        return Path(spec).expanduser()
    repo_id, revision = parse_hub_spec(spec)
    shown = f"{SCHEME}{repo_id}" + (f"@{revision}" if revision else "")
    snapshot = _snapshot(repo_id, revision, shown)
    folder = _linked_view(snapshot, repo_id, shown)
    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        raise DancegenError(f"{shown} holds no dancegen checkpoint (config.json + model.safetensors at its top "
                            "level); upload a folder written by `dancegen export-checkpoint`")
    return folder


def _snapshot(repo_id: str, revision: str | None, shown: str) -> Path:
    """``snapshot_download`` of the allowed files; its failures as one line each."""
    try:
        import huggingface_hub
        from huggingface_hub import errors as hf_errors
    except ImportError:
        raise DancegenError(f"{shown}: loading checkpoints from the Hugging Face Hub needs huggingface_hub: "
                            f"{_INSTALL}") from None
    from . import __version__

    get = f"connect to the internet (and unset HF_HUB_OFFLINE), or download the repository's folder and pass its " \
          f"path to --checkpoint, or set HF_HOME to a Hugging Face cache that holds {repo_id}"
    try:
        path = huggingface_hub.snapshot_download(repo_id, revision=revision, allow_patterns=ALLOW_PATTERNS,
                                                 library_name="dancegen", library_version=__version__)
    except hf_errors.GatedRepoError:
        raise DancegenError(f"{shown} is gated: accept its conditions on huggingface.co and log in (`hf auth login`"
                            " or HF_TOKEN)") from None
    except hf_errors.RepositoryNotFoundError:
        raise DancegenError(f"{shown}: no such model repository on the Hugging Face Hub (or it is private: log in "
                            "with `hf auth login` or set HF_TOKEN)") from None
    except hf_errors.RevisionNotFoundError:
        raise DancegenError(f"{shown}: the repository has no revision {revision!r} (a branch, tag or commit)"
                            ) from None
    except getattr(hf_errors, "IncompleteSnapshotError", ()) as exc:
        raise DancegenError(f"{shown}: the cached copy is incomplete and the Hub cannot be reached: {get} "
                            f"({' '.join(str(exc).split())[:200]})") from None
    except hf_errors.LocalEntryNotFoundError:
        why = "Hugging Face Hub access is off (HF_HUB_OFFLINE)" if _hf_offline() else "the Hub cannot be reached"
        raise DancegenError(f"{shown} is not in the Hugging Face cache and {why}: {get}") from None
    except (hf_errors.HfHubHTTPError, OSError) as exc:
        raise DancegenError(f"{shown}: download failed ({type(exc).__name__}: {' '.join(str(exc).split())[:300]}); "
                            f"retry, or {get}") from None
    return Path(path)


def _hf_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def allowed_file(relative: str) -> bool:
    return any(fnmatch.fnmatch(relative, pattern) for pattern in ALLOW_PATTERNS)


def _linked_view(snapshot: Path, repo_id: str, shown: str) -> Path:
    """A folder holding the snapshot's allowed files as hard links (or copies) without symlinks: reused when it
    is already complete, else built beside and renamed into place."""
    from .atomic import make_temp_dir
    from .features.weights import cache_dir

    snapshot = snapshot.expanduser()
    storage = snapshot.parent.parent  # models--ORG--NAME/snapshots/<commit>
    files: dict[str, Path] = {}
    for root, _dirs, names in os.walk(snapshot):
        for name in names:
            entry = Path(root) / name
            relative = entry.relative_to(snapshot).as_posix()
            if not allowed_file(relative):
                continue  # a pickle or any other file the download would not fetch: never used
            real = entry.resolve()
            inside = real == snapshot.resolve() or snapshot.resolve() in real.parents or storage.resolve() in \
                real.parents
            if not inside or not real.is_file():
                raise UnsafeFileError(f"{shown}: cached file {relative} leads outside its cache folder (to {real}); "
                                      "refused")
            files[relative] = real
    view = cache_dir() / "hub" / repo_id.replace("/", "--") / snapshot.name
    if _complete(view, files):
        return view
    view.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(view.parent, prefix=f".{view.name}.")
    try:
        for relative, real in files.items():
            dest = tmp / relative
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(real, dest)
            except OSError:  # another file system, or none with hard links
                shutil.copyfile(real, dest)
        if view.exists():
            shutil.rmtree(view, ignore_errors=True)
        try:
            os.replace(tmp, view)
        except OSError:
            if not _complete(view, files):  # another process put a complete one in place meanwhile
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return view


def _complete(view: Path, files: dict[str, Path]) -> bool:
    """Whether ``view`` holds exactly ``files`` (same relative names and sizes, no symlinks)."""
    if not view.is_dir() or view.is_symlink():
        return False
    found = {p.relative_to(view).as_posix(): p for p in view.rglob("*") if p.is_file() or p.is_symlink()}
    if set(found) != set(files):
        return False
    return all(not p.is_symlink() and p.stat().st_size == files[k].stat().st_size for k, p in found.items())
