"""The one-command demo and the bundled default model (``dancegen demo``, see ``docs/dancegen/demo.md``).

The bundled checkpoint in ``dancegen/assets/default_model/`` is a ``small`` GCDance model trained by
:func:`retrain` on the procedural data set (``dancegen data synth``) with offline music features
(``baseline35``), the ``text`` genre controller and the Nash-MTL aggregator. :func:`run_demo` synthesises a song,
generates a dance for it with that model and scores the dance's beat alignment against the song's beats.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import make_temp_dir
from .errors import DancegenError

#: The bundled default model (a checkpoint folder: config.json, ema/model/normalizer safetensors).
BUNDLED_DIR = Path(__file__).resolve().parent / "assets" / "default_model"
#: The one-line notice printed when the bundled model is used.
BUNDLED_NOTICE = "using the bundled demo model (trained on procedural data; see docs/dancegen/demo.md)"
DEMO_TEXT = "fluid Dai folk"
#: DDIM steps of the demo: keeps a 30-s song under 2 minutes on 2 CPU cores (see docs/dancegen/demo.md).
DEMO_STEPS = 20
MAX_SECONDS = 720.0  # the longest synthesised song: 12 minutes
#: Seed of the procedural data set the bundled model was trained on (``dancegen data synth --seed``).
DATA_SEED = 0
#: Steps the bundled model was trained for (``dancegen demo --retrain`` default).
BUNDLED_STEPS = 1000
#: The training settings of the bundled model (a :class:`~dancegen.train.TrainConfig` without data/out/steps).
RETRAIN_SETTINGS: dict[str, Any] = {
    "music_encoders": "baseline35", "genre_controller": "text", "preset": "small", "aggregator": "nash",
    "shared": "representation", "backend": "representation", "batch_size": 8, "lr": 1e-3,
    "lr_schedule": "constant", "warmup": 20, "ema_decay": 0.99, "seed": 0, "device": "cpu", "log_every": 10,
    "checkpoint_every": 25,
    # the settings the bundled model was trained with, before EMA warm-up and dancegen's Nash floor existed
    "ema_warmup": False, "aggregator_options": {"min_norm_ratio": 1e-3},
}
#: Files copied from a training checkpoint into a bundled-model folder.
_KEEP = ("config.json", "ema.safetensors", "normalizer.safetensors")


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/dancegen`` (``~/.cache/dancegen`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "dancegen"


# ---------------------------------------------------------------------------------------------- the demo song
def synth_song(genre: str, seconds: float, seed: int = 0) -> tuple[np.ndarray, int, np.ndarray, float]:
    """A procedural song of ``genre``: ``(audio, sr, beat frames at 30 FPS, bpm)``.

    Drawn from ``numpy.random.default_rng([seed, genre index, 1000])`` — a stream the data set (songs 0…N−1 per
    genre) does not use, so the demo song is not a training song.
    """
    from .data.synth.music import synthesize
    from .data.synth.styles import STYLES
    from .data.synth.writer import DEFAULT_SAMPLE_RATE
    from .genre.genres import genre_index
    from .motion.layout import FPS

    if not 2.0 <= seconds <= MAX_SECONDS:
        raise DancegenError(f"--seconds must be between 2 and {MAX_SECONDS:.0f}, got {seconds}")
    g = genre_index(genre)
    frames = round(seconds * FPS)
    song = synthesize(STYLES[genre].music, frames / FPS, DEFAULT_SAMPLE_RATE, np.random.default_rng([seed, g, 1000]))
    beats = np.round(np.asarray(song.beats) * FPS).astype(int)
    return song.audio.astype(np.float32), int(song.sr), beats, float(song.bpm)


def shifted_beats(beats: np.ndarray) -> np.ndarray:
    """The beats moved by half the median beat period: a control that a beat-aligned dance should score lower on."""
    if beats.size < 2:
        return beats
    return np.round(beats + np.median(np.diff(beats)) / 2).astype(int)


def bas_of(motion_319: np.ndarray, beats: np.ndarray, skeleton: Any) -> float:
    """BAS (body joints 0–21, see ``docs/dancegen/metrics.md``) of a (T, 319) motion against beat frames."""
    import torch

    from .metrics import BODY_JOINTS, beat_align_score
    from .motion.kinematics import forward_kinematics

    joints = forward_kinematics(torch.as_tensor(motion_319, dtype=torch.float32), skeleton).numpy()
    frames = joints.shape[0]
    beats = beats[(beats >= 0) & (beats < frames - 1)]
    if beats.size == 0:
        raise DancegenError("the song has no beat inside the generated clip; use a longer song or --seconds")
    return float(beat_align_score(joints[:, list(BODY_JOINTS)], beats))


# ---------------------------------------------------------------------------------------------- run_demo
@dataclass
class DemoResult:
    """What :func:`run_demo` did."""

    song: str
    genre: dict[str, Any]
    duration: float
    frames: int
    steps: int
    bas: float
    bas_shifted: float
    beats_source: str
    files: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)
    checkpoint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_demo(out: str | Path, song: str | Path | None = None, text: str = DEMO_TEXT, seconds: float = 30.0,
             steps: int = DEMO_STEPS, checkpoint: str | Path | None = None, seed: int = 0, window_batch: int = 16,
             formats: str = "npz,bvh,html,mp4") -> DemoResult:
    """Generate a dance for ``song`` (or a synthesised ``seconds``-long song of the genre ``text`` asks for) and
    write it to ``out``. ``mp4`` is skipped silently when no ffmpeg is available."""
    from .export import export
    from .output_folder import staged_output
    from .pipeline import DancePipeline

    if song is None and not 2.0 <= seconds <= MAX_SECONDS:
        raise DancegenError(f"--seconds must be between 2 and {MAX_SECONDS:.0f}, got {seconds}")
    if steps < 1:
        raise DancegenError(f"--steps must be >= 1, got {steps}")
    t0 = time.perf_counter()
    pipe = DancePipeline.from_checkpoint(checkpoint if checkpoint is not None else BUNDLED_DIR, device="cpu")
    t_load = time.perf_counter() - t0
    pred, _ = pipe.resolve_genre(text=text)
    if song is None:
        audio, sr, beats, bpm = synth_song(pred.genre, seconds, seed)
        song_name, beats_source = f"synthesised {pred.genre} song, {bpm:.0f} bpm", "saved beats of the synthesised song"
    else:
        from .features.audio import load_audio
        from .metrics import music_beats

        audio, sr = load_audio(song)
        beats = np.asarray(music_beats(audio, sr)).astype(int)
        song_name, beats_source = str(song), "music_beats (librosa beat tracker)"
    t1 = time.perf_counter()
    result = pipe(audio, sr, text=text, steps=steps, seed=seed, window_batch=window_batch, song_key="demo")
    t_gen = time.perf_counter() - t1
    names = [f.strip() for f in formats.split(",") if f.strip()]
    if "mp4" in names and not _can_write_video():
        names.remove("mp4")
    motion = result.motion[0].numpy()
    with staged_output(out) as stage:  # built beside ``out``, then replaces it whole
        staged = export(motion, audio, sr, stage, names, skeleton=pipe.skeleton, genre=pred.genre, text=text,
                        checkpoint_id=pipe.checkpoint_id or "")
    paths = {k: Path(out) / p.relative_to(stage) for k, p in staged.items()}
    bas = bas_of(motion, beats, pipe.skeleton)
    bas_shift = bas_of(motion, shifted_beats(beats), pipe.skeleton)
    total = time.perf_counter() - t0
    return DemoResult(song_name, pred.to_dict(), result.duration, result.frames, steps, bas, bas_shift,
                      beats_source, {k: str(p) for k, p in paths.items()},
                      {"load": round(t_load, 2), "generate": round(t_gen, 2), "total": round(total, 2)},
                      pipe.checkpoint_id or "")


def _can_write_video() -> bool:
    """Whether mp4 export has what it needs (ffmpeg and matplotlib: the ``video`` extra)."""
    from .export.video import check_video_tools

    try:
        check_video_tools()
    except DancegenError:
        return False
    return True


# ---------------------------------------------------------------------------------------------- retraining
def retrain(out: str | Path | None = None, steps: int = BUNDLED_STEPS, work_dir: str | Path | None = None,
            data_seed: int = DATA_SEED, install: bool = False, progress: bool = False) -> Path:
    """Rebuild the bundled model: synthesise the procedural set (seed ``data_seed``) into ``work_dir``, train with
    :data:`RETRAIN_SETTINGS` for ``steps`` and package the last checkpoint into ``out`` (default: the user cache
    dir). ``install`` writes it over the package's bundled model instead. Returns the model folder."""
    from .data.synth import build
    from .train import TrainConfig, Trainer

    work = Path(work_dir).expanduser() if work_dir is not None else user_cache_dir() / "demo-retrain"
    if install:
        if out is not None:
            raise DancegenError("--install writes the package's bundled model; do not also give --out")
        dest = BUNDLED_DIR
    else:
        dest = Path(out).expanduser() if out is not None else user_cache_dir() / "default_model"
        if dest.resolve() == BUNDLED_DIR.resolve():
            raise DancegenError("--out is the bundled model folder; use --install to replace it explicitly")
    if steps < 1:
        raise DancegenError(f"--steps must be >= 1, got {steps}")
    from .locking import output_lock

    with output_lock(work, "--work-dir"), output_lock(dest, "--out"):  # one retrain per work dir and model
        data = work / f"data-seed{data_seed}"
        meta = data / "synth.json"
        if not (meta.is_file() and json.loads(meta.read_text()).get("seed") == data_seed):
            work.mkdir(parents=True, exist_ok=True)
            build(data, seed=data_seed, force=True)
        run = work / f"run-{time.strftime('%Y%m%d-%H%M%S')}"
        cfg = TrainConfig.from_dict({**RETRAIN_SETTINGS, "data": str(data), "out": str(run), "steps": steps,
                                     "progress": progress}, where="demo retrain settings")
        last = Trainer(cfg).fit()
        if last is None:
            raise DancegenError(f"training in {run} wrote no checkpoint")
        package_checkpoint(last, dest, run / "metrics.jsonl")
    return dest


def package_checkpoint(checkpoint: str | Path, dest: str | Path, metrics: str | Path | None = None) -> Path:
    """Copy a training checkpoint's inference parts into ``dest`` (atomically): config.json, EMA and normaliser
    weights, the raw weights as float16 ``model.safetensors`` (the loader wants it; halves the size), and the
    run's metrics.jsonl. Optimiser, aggregator and RNG state are dropped, and so is every machine path in the
    config (:func:`~dancegen.hub_export.portable_config`)."""
    from safetensors.torch import load_file, save_file

    from .checkpoint import HEAD_FILE
    from .checkpoint.files import write_json
    from .hub_export import portable_config

    src, dest = Path(checkpoint), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(dest.parent, prefix=f".{dest.name}.tmp-")
    try:
        for name in _KEEP:
            shutil.copy2(src / name, tmp / name)
        config = json.loads((src / "config.json").read_text(encoding="utf-8"))
        write_json(tmp / "config.json", portable_config(config, src)[0])  # no path of this machine in a package
        if (src / HEAD_FILE).is_file():  # a text controller trained from a head file: its copy
            shutil.copy2(src / HEAD_FILE, tmp / HEAD_FILE)
        raw = {k: v.half().contiguous() if v.is_floating_point() else v
               for k, v in load_file(str(src / "model.safetensors")).items()}
        save_file(raw, str(tmp / "model.safetensors"))
        if metrics is not None and Path(metrics).is_file():
            shutil.copy2(metrics, tmp / "metrics.jsonl")
        for f in tmp.iterdir():
            f.chmod(0o644)
        tmp.chmod(0o755)  # a package folder must be readable by everyone, whatever the umask
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
