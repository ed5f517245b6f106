"""The ablation grid: the cross product of aggregators × music-encoder sets × genre controllers × seeds (or the rows
of a paper table, :mod:`.tables`), and the plain ``dancegen train`` / ``dancegen evaluate`` command lines of each
run (so any scheduler can run them)."""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

from ..errors import DancegenError


@dataclass(frozen=True)
class Combination:
    """One run of the sweep."""

    aggregator: str
    music_encoders: str
    genre_controller: str
    seed: int
    aggregator_options: tuple[str, ...] = ()  # ``key=value`` for ``--aggregator-opt``
    train_args: tuple[str, ...] = ()  # further ``dancegen train`` arguments of this run (a table row's)

    @property
    def variant(self) -> str:
        """``""`` for a plain grid run, else a slug of the aggregator options and extra train arguments
        (``tasks-S.J.V.F``): runs of the same configuration share a folder, different ones never do."""
        if not self.aggregator_options and not self.train_args:
            return ""
        parts = [f"opt-{o}" for o in self.aggregator_options] + [a.lstrip("-") for a in self.train_args]
        slug = re.sub(r"[^A-Za-z0-9.=+-]+", ".", "-".join(parts)).strip(".-")
        if len(slug) > 48:
            slug = slug[:39] + "-" + hashlib.sha256(slug.encode()).hexdigest()[:8]
        return slug

    @property
    def name(self) -> str:
        """Folder name, e.g. ``nash__wav2clip+stft__text__s0`` (``nash__stft__text__tasks-S.J.V.F__s0`` with
        extra arguments)."""
        enc = re.sub(r"[^A-Za-z0-9+.-]", "+", self.music_encoders.replace(",", "+"))
        variant = f"__{self.variant}" if self.variant else ""
        return f"{self.aggregator}__{enc}__{self.genre_controller}{variant}__s{self.seed}"

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"aggregator": self.aggregator, "music_encoders": self.music_encoders,
                                  "genre_controller": self.genre_controller, "seed": self.seed}
        if self.aggregator_options:
            out["aggregator_options"] = list(self.aggregator_options)
        if self.train_args:
            out["train_args"] = list(self.train_args)
        return out


@dataclass
class SweepSettings:
    """Everything shared by the runs of one sweep."""

    data: Path
    out: Path
    steps: int = 1000
    preset: str = "small"
    batch_size: int | None = None
    device: str = "cpu"
    allow_random_weights: bool = False
    protocol: str = "gcdance"
    repeats: int = 1
    eval_steps: int = 50
    train_args: list[str] = field(default_factory=list)
    eval_args: list[str] = field(default_factory=list)  # further ``dancegen evaluate`` arguments (e.g. --sets=3)
    threads: int | None = None  # OMP_NUM_THREADS / torch threads of every run (None: cpu count // jobs)


def _split(text: str, sep: str, what: str) -> list[str]:
    items = [x.strip() for x in text.split(sep) if x.strip()]
    if not items:
        raise DancegenError(f"{what}: empty list")
    if len(set(items)) != len(items):
        raise DancegenError(f"{what}: repeated entries in {text!r}")
    return items


def build_grid(aggregators: str, music_encoders: str, genre_controllers: str, seeds: str) -> list[Combination]:
    """The cross product. Aggregators / controllers / seeds are comma-separated; encoder sets are separated by
    ``;`` and the encoders of a set by ``+`` or ``,`` (``"wav2clip+stft;stft;mfcc"``)."""
    aggs = _split(aggregators, ",", "--aggregators")
    encs = [e.replace("+", ",") for e in _split(music_encoders, ";", "--music-encoders")]
    ctrls = _split(genre_controllers, ",", "--genre-controller")
    from ..genre.registry import GENRE_CONTROLLERS

    for c in ctrls:
        if c not in GENRE_CONTROLLERS.names():
            raise DancegenError(f"--genre-controller: unknown controller {c!r}; choose among "
                                f"{', '.join(GENRE_CONTROLLERS.names())}")
    return [Combination(a, e, c, s) for a, e, c, s in product(aggs, encs, ctrls, parse_seeds(seeds))]


def parse_seeds(seeds: str) -> list[int]:
    """``"0,1"`` → ``[0, 1]`` (distinct, non-negative integers)."""
    try:
        out = [int(s) for s in _split(seeds, ",", "--seeds")]
    except ValueError:
        raise DancegenError(f"--seeds must be comma-separated integers, got {seeds!r}") from None
    if any(s < 0 for s in out):
        raise DancegenError(f"--seeds must be non-negative, got {seeds!r}")
    return out


def train_command(combo: Combination, s: SweepSettings, run_dir: Path, resume: bool = False) -> list[str]:
    """``dancegen train …`` argv (without the interpreter) for one run."""
    cmd = ["dancegen", "train", "--data", str(s.data), "--out", str(run_dir / "train"),
           "--aggregator", combo.aggregator, "--music-encoders", combo.music_encoders,
           "--genre-controller", combo.genre_controller, "--preset", s.preset, "--steps", str(s.steps),
           "--seed", str(combo.seed), "--device", s.device, "--no-progress",  # label/none: train drops L_C
           "--checkpoint-every", str(max(1, min(500, s.steps // 4)))]  # an interrupted sweep loses ≤ a quarter
    for opt in combo.aggregator_options:
        cmd += ["--aggregator-opt", opt]
    if s.batch_size:
        cmd += ["--batch-size", str(s.batch_size)]
    if s.allow_random_weights:
        cmd.append("--allow-random-weights")
    if resume:
        cmd.append("--resume")
    return cmd + list(combo.train_args) + list(s.train_args)


def evaluate_command(combo: Combination, s: SweepSettings, run_dir: Path) -> list[str]:
    """``dancegen evaluate …`` argv for one run; writes ``RUN/report.json``."""
    return ["dancegen", "evaluate", "--checkpoint", str(run_dir / "train"), "--data", str(s.data),
            "--protocol", s.protocol, "--repeats", str(s.repeats), "--steps", str(s.eval_steps),
            "--seed", str(combo.seed), "--device", s.device, "--cache-dir", str(s.out / "eval_cache"),
            "--out", str(run_dir / "report.json"), "--json", *s.eval_args]


def shell(cmd: list[str]) -> str:
    """A command as one shell-quoted line."""
    return " ".join(shlex.quote(c) for c in cmd)
