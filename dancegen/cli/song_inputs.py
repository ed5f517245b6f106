"""The SONG arguments of ``dancegen generate``: files, folders and quoted glob patterns expanded to song files,
checked without decoding, and one output folder per song."""

from __future__ import annotations

import re
from pathlib import Path

#: Song files a folder or a glob pattern contributes (and the suffixes a song argument may have in a batch).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
_GLOB_CHARS = re.compile(r"[*?\[]")


def is_batch(songs: list[Path]) -> bool:
    """Whether ``generate``'s SONG arguments make a batch: several, a folder or a glob pattern. One file keeps the
    single-song layout (its files directly in --out)."""
    if len(songs) != 1:
        return True
    p = songs[0].expanduser()
    return p.is_dir() or (not p.exists() and _GLOB_CHARS.search(str(songs[0])) is not None)


def expand_songs(args: list[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """The song files ``args`` name, in order (a folder: its audio files sorted by name, not recursive; a pattern
    that names no existing path: its audio matches, sorted; ``**`` recurses), each file once; and the bad arguments
    as ``(argument, problem)``: not found, an unsupported suffix, a folder or pattern without audio files, an
    empty or text file. Nothing is decoded."""
    import glob
    import os

    from ..features.audio_decode import looks_like_text

    kinds = ", ".join(s[1:] for s in AUDIO_SUFFIXES)
    songs: list[Path] = []
    bad: list[tuple[str, str]] = []

    def add_file(p: Path, shown: str) -> None:
        if p.suffix.lower() not in AUDIO_SUFFIXES:
            bad.append((shown, f"unsupported file type {p.suffix or '(no suffix)'!r}; songs are {kinds} files"))
        elif p.stat().st_size == 0:
            bad.append((shown, "the file is empty (0 bytes)"))
        elif looks_like_text(p):
            bad.append((shown, "it is not audio (the file holds text)"))
        else:
            songs.append(p)

    def audio_in(paths: list[Path]) -> list[Path]:
        return sorted((q for q in paths if q.is_file() and q.suffix.lower() in AUDIO_SUFFIXES), key=str)

    for arg in args:
        shown = str(arg)
        p = arg.expanduser()
        try:
            if p.is_dir():
                found = audio_in(list(p.iterdir()))
                if not found:
                    bad.append((shown, f"the folder holds no song ({kinds} files)"))
                for q in found:
                    add_file(q, str(q))
            elif p.exists():
                if not p.is_file():
                    bad.append((shown, "not a regular file"))
                else:
                    add_file(p, shown)
            elif _GLOB_CHARS.search(shown):
                found = audio_in([Path(m) for m in glob.glob(os.path.expanduser(shown), recursive=True)])
                if not found:
                    bad.append((shown, f"the pattern matches no song ({kinds} files)"))
                for q in found:
                    add_file(q, str(q))
            else:
                bad.append((shown, "not found"))
        except OSError as exc:
            bad.append((shown, f"cannot read it ({exc.strerror or exc})"))
    seen: set[Path] = set()
    unique = []
    for s in songs:  # the same file named twice (a file and its folder, two patterns): generated once
        key = s.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(s)
    return unique, bad


def song_folders(songs: list[Path], out: Path | None) -> list[Path]:
    """Each song's output folder: ``OUT/<stem>`` (without --out: ``./<stem>-dance``), ``<stem>-2``, ``<stem>-3``, …
    for stems that collide (compared case-insensitively: one folder on macOS and Windows)."""
    taken: set[str] = set()
    folders = []
    for song in songs:
        name, n = song.stem or "song", 1
        while name.casefold() in taken:
            n += 1
            name = f"{song.stem or 'song'}-{n}"
        taken.add(name.casefold())
        folders.append(out / name if out is not None else Path(f"{name}-dance"))
    return folders
