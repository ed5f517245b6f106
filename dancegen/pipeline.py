"""The inference pipeline: music (+ text or genre) → 319-D dance, any song length, optional editing constraints.

Composes a trained :class:`~dancegen.model.GCDanceDenoiser`, the :class:`~dancegen.diffusion.DiffusionScheduler`, the
:class:`~dancegen.model.MotionNormalizer`, a music encoder and a genre controller::

    pipe = DancePipeline.from_checkpoint("runs/gcdance")
    result = pipe(audio, sr, text="smooth jazz with spins", steps=50, guidance=2.7, seed=0)
    result.motion            # (variations, round(duration * 30), 319), unnormalised

Sampling is DDIM (η = 1 by default) with classifier-free guidance on the music condition (cond and uncond in one
batched forward). Songs are split in 4-s windows overlapping by 2 s (:mod:`dancegen.longform`), sampled together in
chunks of ``window_batch`` and joined while they are denoised (:mod:`dancegen.window_sampler`: ``blend`` by default,
the paper's ``inpaint`` on request), so memory holds one chunk whatever the song length. The dance is then placed on
the floor (:mod:`dancegen.motion.floor`) and its planted feet locked (:mod:`dancegen.motion.footlock`). Editing
constraints (:mod:`dancegen.constraints`) inpaint a reference motion's known entries, which are copied exactly into
the result.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .checkpoint import Components, load_components
from .constraints import Constraint, constraint_mask
from .diffusion import DiffusionScheduler, UniPCState
from .errors import DancegenError
from .features.encoder import MusicEncoder
from .genre.controller import GenreController, GenrePrediction
from .genre.genres import GenreSet, GenreSetLike, get_genre_set
from .longform import HOP, Window, canonical_rot6d, plan_windows
from .model import GCDanceDenoiser, MotionNormalizer
from .motion.layout import CONTACTS, FINEDANCE_CHANNELS, FPS, NUM_CHANNELS, ROOT, WINDOW
from .motion.skeleton import Skeleton
from .precision import autocast, check_precision
from .sampling import Noise, StepEdit, StepHook
from .window_sampler import LONGFORM_MODES, ProgressCallback, WindowSampler

PAD_MODES = ("repeat", "zero")
#: Post-processing of a generated dance (see :meth:`DancePipeline.__call__`).
CLEANUP_MODES = ("feet", "floor", "none")
#: DDIM steps accepted: 1 to T, the scheduler's training timesteps (1000).
MAX_STEPS = 1000
#: Classifier-free guidance weights accepted: 0 (unconditional) to 100; 1 is no guidance, the paper uses 2.7.
GUIDANCE_RANGE = (0.0, 100.0)
#: DDIM η accepted: 0 (deterministic) to 1 (ancestral, the paper).
ETA_RANGE = (0.0, 1.0)
#: Reverse-step solvers: ``ddim`` (the paper's, η as given), ``dpmpp_2m`` (DPM-Solver++(2M), deterministic, good in
#: fewer steps), ``dpmpp_2m_sde`` (its stochastic variant: fresh noise each step like ancestral DDIM) and ``unipc``
#: (UniPC: UniP-2 predictor + UniC corrector, B(h) = bh2, deterministic); see ``docs/dancegen/generation.md#samplers``.
SAMPLERS = ("ddim", "dpmpp_2m", "dpmpp_2m_sde", "unipc")


def _check_number(name: str, value: float, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not low <= value <= high:  # NaN fails too
        raise DancegenError(f"{name} must be a number between {low:g} and {high:g}, got {value!r}")


def check_generation_options(longform: str | None = None, cleanup: str | None = None, prefix: str = "", *,
                             steps: int | None = None, guidance: float | None = None, eta: float | None = None,
                             variations: int | None = None, window_batch: int | None = None,
                             pad: str | None = None, genre: str | None = None, text: str | None = None,
                             sampler: str | None = None, genres: GenreSetLike = None) -> None:
    """One-line :class:`DancegenError` for the first bad generation option, cheap enough to call before any model
    is loaded; None skips an option. ``prefix`` (e.g. ``"--"``) names them as the caller's options.

    ``longform``, ``cleanup``, ``pad``, ``sampler``: one of their modes; ``steps`` 1…:data:`MAX_STEPS`;
    ``guidance`` finite in :data:`GUIDANCE_RANGE`; ``eta`` in :data:`ETA_RANGE`; ``variations``, ``window_batch``
    >= 1; ``genre`` a known genre name or alias of ``genres`` (the model's genre set: a
    :class:`~dancegen.genre.genres.GenreSet` or a built-in's name; default the FineDance genres); ``text`` a
    non-empty description of at most :data:`~dancegen.genre.controller.MAX_TEXT_CHARS` characters."""
    for name, value, known in (("longform", longform, LONGFORM_MODES), ("cleanup", cleanup, CLEANUP_MODES),
                               ("pad", pad, PAD_MODES), ("sampler", sampler, SAMPLERS)):
        if value is not None and value not in known:
            raise DancegenError(f"{prefix}{name} {value!r}: expected one of {', '.join(known)}")
    for name, count, high in (("steps", steps, MAX_STEPS), ("variations", variations, None),
                              ("window_batch", window_batch, None)):
        if count is not None and not (1 <= count <= (high or count)):
            limit = f"between 1 and {high}" if high else ">= 1"
            raise DancegenError(f"{prefix}{name.replace('_', '-') if prefix else name} must be {limit}, got {count}")
    if guidance is not None:
        _check_number(f"{prefix}guidance", guidance, *GUIDANCE_RANGE)
    if eta is not None:
        _check_number(f"{prefix}eta", eta, *ETA_RANGE)
    if genre is not None:
        get_genre_set(genres).index(genre)
    if text is not None:
        from .genre.controller import check_texts

        check_texts([text], get_genre_set(genres).genres)


@dataclass
class GenerationResult:
    """What :class:`DancePipeline` returns.

    ``motion`` (variations, frames, 319) float32 CPU tensor, unnormalised, root in song coordinates, rotations as
    valid 6D rotations; ``genre`` the genre used (``genre.ambiguous`` → look at ``genre.top3``); ``windows`` the
    sampling windows (song frames, overlaps, chunk); ``settings`` the sampling settings; ``stats`` timings and
    ``max_windows_in_flight`` (windows held at once by the sampler, ≤ ``window_batch``); ``window_motions`` (only
    with ``keep_windows=True``) each window's (variations, 120, 319) motion in song coordinates before stitching;
    ``quality`` one dict of whole-song figures per variation (:func:`dancegen.metrics.longform.longform_report`).
    """

    motion: Tensor
    genre: GenrePrediction
    duration: float
    frames: int
    windows: list[Window]
    settings: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)
    fps: int = FPS
    window_motions: list[Tensor] | None = None
    quality: list[dict[str, Any]] = field(default_factory=list)

    @property
    def variations(self) -> int:
        return int(self.motion.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (everything but the motion array)."""
        return {"genre": self.genre.to_dict(), "duration": round(self.duration, 4), "frames": self.frames,
                "fps": self.fps, "variations": self.variations, "settings": self.settings, "stats": self.stats,
                "quality": self.quality, "windows": [w.to_dict() for w in self.windows]}


#: A reference motion as callers give it: a tensor or a numpy array.
MotionLike = Tensor | np.ndarray


def check_reference(reference: MotionLike) -> Tensor:
    """A reference motion as a (frames, 319) or FineDance (frames, 315) float32 CPU tensor (a leading batch of one
    is dropped); one :class:`DancegenError` line for another shape, no frames or NaN/Inf values."""
    try:
        ref = torch.as_tensor(np.asarray(reference) if not isinstance(reference, Tensor) else reference)
        ref = ref.detach().to("cpu", torch.float32)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise DancegenError(f"reference motion is not a numeric array ({exc})".splitlines()[0]) from None
    if ref.ndim == 3 and ref.shape[0] == 1:
        ref = ref[0]
    if ref.ndim != 2 or ref.shape[-1] not in (NUM_CHANNELS, FINEDANCE_CHANNELS) or ref.shape[0] == 0:
        raise DancegenError(f"reference motion must be (frames, {NUM_CHANNELS}) or (frames, {FINEDANCE_CHANNELS}), "
                            f"got {tuple(ref.shape)}")
    if not bool(torch.isfinite(ref).all()):
        raise DancegenError("reference motion contains NaN or Inf")
    return ref


class DancePipeline:
    """Inference-only GCDance sampler (see the module doc). Build it from objects or :meth:`from_checkpoint`."""

    model: GCDanceDenoiser
    scheduler: DiffusionScheduler
    normalizer: MotionNormalizer
    music_encoder: MusicEncoder
    genre_controller: GenreController
    skeleton: Skeleton
    checkpoint_id: str | None

    def __init__(self, model: GCDanceDenoiser, scheduler: DiffusionScheduler, normalizer: MotionNormalizer,
                 music_encoder: MusicEncoder, genre_controller: GenreController, skeleton: Skeleton | None = None,
                 checkpoint_id: str | None = None) -> None:
        cfg = model.config
        if music_encoder.dim != cfg.music_dim:
            raise DancegenError(f"the music encoder gives {music_encoder.dim}-D features but the model expects "
                                f"{cfg.music_dim}-D")
        if genre_controller.embedding_dim != cfg.genre_dim:
            raise DancegenError(f"the genre controller gives {genre_controller.embedding_dim}-D embeddings but the "
                                f"model expects {cfg.genre_dim}-D")
        if cfg.seq_len < WINDOW:
            raise DancegenError(f"the model's seq_len {cfg.seq_len} is shorter than the {WINDOW}-frame window")
        self.model = model.eval()
        self.scheduler = scheduler
        self.normalizer = normalizer
        self.music_encoder = music_encoder
        self.genre_controller = genre_controller.eval()
        self.skeleton = Skeleton.default() if skeleton is None else skeleton
        self.checkpoint_id = checkpoint_id
        self.precision = "fp32"
        self._compiled: Callable[..., Tensor] | None = None  # torch.compile'd guided forward (set_precision)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_components(cls, components: Components, scheduler: DiffusionScheduler | None = None) -> DancePipeline:
        """A pipeline over a trained model's components (:class:`dancegen.checkpoint.Components`); the scheduler
        defaults to the training one (:class:`~dancegen.diffusion.DiffusionScheduler`)."""
        c = components
        return cls(c.denoiser, scheduler or DiffusionScheduler(), c.normalizer, c.music_encoder, c.genre_controller,
                   c.skeleton, checkpoint_id=c.checkpoint_id)

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, device: str | torch.device = "cpu", ema: bool = True
                        ) -> DancePipeline:
        """Load model (EMA weights by default), normaliser, music encoder, genre controller and skeleton from a
        checkpoint folder or a run folder with a ``latest`` pointer (None: :func:`default_checkpoint_dir`), through
        :func:`dancegen.checkpoint.load_components`."""
        return cls.from_components(load_components(path, ema=ema)).to(device)

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, device: str | torch.device = "cpu", ema: bool = True
                        ) -> DancePipeline:
        """:meth:`from_checkpoint` of a local folder or a Hugging Face Hub checkpoint ``hf://ORG/NAME[@REV]``
        (downloaded once into the Hugging Face cache, safetensors only: see :mod:`dancegen.hub`)."""
        from .hub import resolve_checkpoint

        return cls.from_checkpoint(resolve_checkpoint(name_or_path), device=device, ema=ema)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> DancePipeline:
        """Move the model, normaliser and controller to ``device`` (music features are computed on the CPU)."""
        self.model.to(device)
        self.normalizer.to(device)
        self.genre_controller.to(device)
        return self

    def set_precision(self, precision: str = "fp32", compile: bool = False) -> DancePipeline:
        """Sample with the denoiser under ``bf16``/``fp16`` autocast (CUDA only; ``fp32``: plain float32) and/or
        ``torch.compile`` its guided forward pass (the first windows then pay the compilation). Returns ``self``."""
        if check_precision(precision) != "fp32" and self.device.type != "cuda":
            raise DancegenError(f"precision {precision} needs a CUDA device (this pipeline is on {self.device}); "
                                "use fp32")
        self.precision = precision
        self._compiled = torch.compile(self.model.guided_forward) if compile else None
        return self

    # ------------------------------------------------------------------ inputs
    @property
    def genres(self) -> GenreSet:
        """The model's genre set (its genre controller's: FineDance's 16 genres, AIST++'s 10, …)."""
        return self.genre_controller.genre_set

    def resolve_genre(self, text: str | None = None, genre: str | None = None) -> tuple[GenrePrediction, Tensor]:
        """The genre (text through the controller, or a label that bypasses it) and its embedding C_E (1, D); both
        resolve against the controller's genre set (the one the model was trained on, see :attr:`genres`)."""
        names = self.genres.genres
        if genre is not None:
            idx = self.genres.index(genre)
            probs = {g: (1.0 if i == idx else 0.0) for i, g in enumerate(names)}
            top3 = [(names[idx], 1.0), *[(g, 0.0) for i, g in enumerate(names) if i != idx][:2]]
            pred = GenrePrediction(text=text or names[idx], genre=names[idx], index=idx, probabilities=probs,
                                   top3=top3, ambiguous=False, source="label")
        elif text is not None:
            pred = self.genre_controller.predict(text)
        else:
            raise DancegenError("no genre given: pass text= (a description of the dance or music) or genre= (one of: "
                                + ", ".join(names) + ")")
        emb = self.genre_controller.embed(torch.tensor([pred.index]))
        return pred, emb.to(self.device, torch.float32)

    def encode_music(self, audio: np.ndarray, sr: int, pad: str = "repeat", song_key: str | None = None
                     ) -> tuple[Tensor, float, int]:
        """Music features (max(frames, 120), D), the duration in seconds and the output frame count
        round(duration × 30).

        A song shorter than one window has its *audio* padded to 4 s before encoding — ``repeat`` tiles the song
        (the model keeps hearing music, default), ``zero`` appends silence — and the motion is trimmed afterwards.
        ``song_key`` names the song for encoders that look up precomputed features (``jukebox``: the file stem).
        """
        from .features.audio import check_audio, to_mono

        if pad not in PAD_MODES:
            raise DancegenError(f"pad must be one of {', '.join(PAD_MODES)}, got {pad!r}")
        y = to_mono(np.asarray(audio))
        check_audio(y, sr, "song")
        duration = len(y) / sr
        frames = max(1, round(duration * FPS))
        if frames < WINDOW:
            need = -(-WINDOW * sr // FPS) + 1
            y = np.tile(y, -(-need // len(y)))[:need] if pad == "repeat" else np.pad(y, (0, need - len(y)))
        feats = np.asarray(self.music_encoder.encode_keyed(y, int(sr), song_key), dtype=np.float32)
        want = max(frames, WINDOW)
        if feats.shape[0] < want:  # round() may ask for one frame more than the encoder's floor()
            feats = np.concatenate([feats, np.repeat(feats[-1:], want - feats.shape[0], axis=0)])
        return torch.from_numpy(feats[:want]), duration, frames

    def prepare_reference(self, reference: MotionLike, frames: int, mask: Tensor) -> Tensor:
        """A reference motion as (frames, 319) raw float32: (T, 319) ours or (T, 315) FineDance (contacts computed).

        It must cover every constrained frame; frames past its end are generated freely."""
        from .motion.convert import from_finedance

        ref = check_reference(reference)
        if ref.shape[-1] == FINEDANCE_CHANNELS:
            ref = from_finedance(ref, self.skeleton)
        covered = mask.any(dim=1).nonzero()
        last = int(covered.max()) if covered.numel() else -1
        if last >= ref.shape[0]:
            raise DancegenError(f"the constraints keep frame {last} but the reference motion has only {ref.shape[0]} "
                                f"frames ({ref.shape[0] / FPS:.2f} s); shorten the song or the constrained range")
        out = torch.zeros(frames, NUM_CHANNELS)
        n = min(frames, ref.shape[0])
        out[:n] = ref[:n]
        return out

    # ------------------------------------------------------------------ sampling
    def denoise(self, x_T: Tensor, music: Tensor, genre: Tensor, steps: int, guidance: float, eta: float,
                noise: Noise, step_hook: StepHook | None = None, on_step: Callable[[], None] | None = None,
                sampler: str = "ddim") -> Tensor:
        """The denoising loop: DDIM (or DPM-Solver++(2M), UniPC) with classifier-free guidance from ``x_T`` to x_0
        (normalised).

        ``x_T`` (..., frames, 319) is the initial noise of B = prod(leading dims) samples, ``music`` (B, frames, D)
        and ``genre`` (B, D) their conditions. At each of the ``steps`` reverse steps one batched forward gives the
        guided x̂0 (clamped), ``step_hook`` may replace it and name known entries (:class:`~dancegen.sampling.StepEdit`:
        long-form joining, editing constraints), the scheduler steps to t_prev drawing from ``noise``, the known
        entries are pasted in at t_prev, and ``on_step()`` is called. Every random draw comes from ``noise``, in
        this order: the scheduler step's, then the known entries'. Long-form windows
        (:mod:`dancegen.window_sampler`), batched clips (:mod:`dancegen.clip_batch`) and edits all run this loop.

        ``sampler``: ``ddim`` (:meth:`~dancegen.diffusion.DiffusionScheduler.ddim_step` with ``eta``),
        ``dpmpp_2m`` (:meth:`~dancegen.diffusion.DiffusionScheduler.dpmpp_2m_step`, deterministic: ``eta`` is
        ignored and the only draws are the known entries') or ``dpmpp_2m_sde``
        (:meth:`~dancegen.diffusion.DiffusionScheduler.dpmpp_2m_sde_step`: one draw per step like ancestral DDIM,
        ``eta`` ignored) or ``unipc`` (:meth:`~dancegen.diffusion.DiffusionScheduler.unipc_step`, order 2, bh2,
        deterministic like ``dpmpp_2m``); the multistep history holds the hook-edited x̂0 of the previous steps, the
        ones they continued from. UniPC's corrector rewrites x_t (from the previous x and the x̂0 just predicted)
        except the entries the previous step pasted in as known, which stay the q(known, t) draws the model saw.
        The denoiser runs under :meth:`set_precision`'s autocast / compiled forward.
        """
        if sampler not in SAMPLERS:
            raise DancegenError(f"sampler {sampler!r}: expected one of {', '.join(SAMPLERS)}")
        history: tuple[Tensor, int] | None = None
        unipc = UniPCState(steps) if sampler == "unipc" else None
        pasted: Tensor | None = None  # the entries of x pasted in as known after the previous step
        x = x_T
        batch = math.prod(x.shape[:-2])
        condition = self.model.prepare_condition(music, genre)  # x_t/t-independent part, once per call
        guided = self._compiled or self.model.guided_forward
        for t, t_prev in self.scheduler.step_pairs(steps):
            tt = torch.full((batch,), t, dtype=torch.long, device=x.device)
            with autocast(self.precision, "cuda"):
                x0 = guided(x.reshape(batch, *x.shape[-2:]), tt, condition, None, guidance)
            x0 = self.scheduler.maybe_clip(x0.float().view(x.shape))
            edit = StepEdit(x0) if step_hook is None else step_hook(x0, t, t_prev)
            if sampler == "dpmpp_2m":
                x = self.scheduler.dpmpp_2m_step(edit.x0, t, t_prev, x, *(history or (None, None)))
                history = (edit.x0, t)
            elif sampler == "dpmpp_2m_sde":
                prev_x0, prev_t = history or (None, None)
                x = self.scheduler.dpmpp_2m_sde_step(edit.x0, t, t_prev, x, prev_x0, prev_t, generator=noise)
                history = (edit.x0, t)
            elif unipc is not None:
                x = self.scheduler.unipc_step(edit.x0, t, t_prev, x, unipc, keep=pasted)
            else:
                x = self.scheduler.ddim_step(edit.x0, t, t_prev, x, eta=eta, generator=noise)
            pasted = None
            if edit.known is not None and edit.mask is not None and bool(edit.mask.any()):
                pasted = edit.mask.expand_as(x)
                x = self.scheduler.replace_known(x, edit.known, pasted, t_prev, generator=noise)
            if on_step is not None:
                on_step()
        return x

    def __call__(self, audio: np.ndarray, sr: int, text: str | None = None, genre: str | None = None,
                 steps: int = 50, guidance: float = 2.7, eta: float = 1.0, seed: int = 0, variations: int = 1,
                 constraints: Sequence[Constraint] = (), reference: MotionLike | None = None,
                 window_batch: int = 16, progress: ProgressCallback | None = None, pad: str = "repeat",
                 keep_windows: bool = False, song_key: str | None = None, longform: str = "blend",
                 cleanup: str = "feet", stage: Callable[[str], None] | None = None, sampler: str = "ddim"
                 ) -> GenerationResult:
        """Generate ``variations`` dances for ``audio`` (samples at ``sr`` Hz) in the genre of ``text`` / ``genre``.

        ``constraints`` + ``reference`` edit a reference motion (its masked entries are kept). ``window_batch``
        windows are sampled at once (memory ∝ variations × window_batch). Results depend on ``seed`` and on
        ``window_batch`` (chunk boundaries use the previous chunk's final motion). ``pad``: how a song shorter than
        4 s is padded and ``song_key`` (see :meth:`encode_music`). ``keep_windows`` keeps every window's
        motion (debugging). ``longform``: how windows become one dance — ``blend`` (soft continuation, default),
        ``consensus`` or ``inpaint`` (the paper's scheme), see :mod:`dancegen.window_sampler`.
        ``cleanup``: ``feet`` (default) places the dance on the floor
        (:func:`~dancegen.motion.floor.place_on_floor`: no height drift), locks planted feet and keeps every foot joint
        above the floor (:func:`~dancegen.motion.footlock.lock_feet`); ``floor`` only places it on the floor;
        ``none`` returns the model's raw output (what published evaluations score). ``stage(label)``
        is called as each part starts (genre, music features, sampling, clean-up); their times go to ``stats``.
        ``sampler``: ``ddim`` (default), ``dpmpp_2m`` (DPM-Solver++(2M), deterministic, ``eta`` ignored; 10–20
        steps), ``dpmpp_2m_sde`` (its stochastic variant) or ``unipc`` (UniPC predictor-corrector, deterministic,
        ``eta`` ignored; 10–20 steps), see :meth:`denoise`.
        """
        check_generation_options(longform, cleanup, steps=steps, guidance=guidance, eta=eta, variations=variations,
                                 window_batch=window_batch, pad=pad, genre=genre, text=text, sampler=sampler,
                                 genres=self.genres)
        with torch.inference_mode():
            result = self._generate(audio, sr, text, genre, steps, guidance, eta, seed, variations, constraints,
                                    reference, window_batch, progress, pad, keep_windows, song_key, longform,
                                    cleanup, stage or (lambda label: None), sampler)
        # plain tensors (not inference tensors), so callers may modify them in place
        result.motion = result.motion.clone()
        if result.window_motions is not None:
            result.window_motions = [m.clone() for m in result.window_motions]
        return result

    def _generate(self, audio: np.ndarray, sr: int, text: str | None, genre: str | None, steps: int,
                  guidance: float, eta: float, seed: int, variations: int, constraints: Sequence[Constraint],
                  reference: MotionLike | None, window_batch: int, progress: ProgressCallback | None, pad: str,
                  keep_windows: bool, song_key: str | None, longform: str, cleanup: str,
                  stage: Callable[[str], None], solver: str = "ddim") -> GenerationResult:
        t0 = time.perf_counter()
        constraints = list(constraints)
        if constraints and reference is None:
            raise DancegenError("constraints need a reference motion to take the kept values from (reference=)")
        if reference is not None and not constraints:
            raise DancegenError("a reference motion needs constraints saying what to keep, e.g. "
                                "Constraint.keep('body') or Constraint.keyframes([0, 60, 119])")
        stage("genre from the text" if genre is None else "genre label")
        pred, genre_emb = self.resolve_genre(text, genre)
        t_genre = time.perf_counter() - t0
        stage(f"music features ({getattr(self.music_encoder, 'name', '') or type(self.music_encoder).__name__})")
        music, duration, frames = self.encode_music(audio, sr, pad, song_key)
        t_prepare = time.perf_counter() - t0
        windows = plan_windows(frames, WINDOW, HOP, window_batch)
        span = max(frames, WINDOW)
        ref_mask = ref = None
        if reference is not None:
            ref_mask = constraint_mask(constraints, frames)
            ref = self.prepare_reference(reference, frames, ref_mask)
        stage(f"sampling {len(windows)} window(s) × {steps} steps")
        sampler = WindowSampler(self, music, genre_emb, windows, variations, span, ref, ref_mask, steps,
                                guidance, eta, seed, progress, keep_windows, longform, solver)
        motion = sampler.run()[:, :frames]
        motion = canonical_rot6d(motion)
        if ref is not None and ref_mask is not None:
            motion = torch.where(ref_mask, ref, motion)  # the known part, exactly
        t_sampled = time.perf_counter()
        if cleanup != "none":
            stage("floor placement" + (" and foot clean-up" if cleanup == "feet" else ""))
            motion = self._finish(motion, ref, ref_mask, cleanup == "feet")
        t_cleanup = time.perf_counter() - t_sampled
        settings = {"steps": steps, "sampler": solver, "guidance": guidance, "eta": eta, "seed": seed,
                    "variations": variations,
                    "window_batch": window_batch, "pad": pad, "window": WINDOW, "hop": HOP, "longform": longform,
                    "cleanup": cleanup,
                    "constraints": [repr(c) for c in constraints], "edited": reference is not None,
                    "checkpoint": self.checkpoint_id}
        total = time.perf_counter() - t0
        stats = {"seconds": round(total, 4), "prepare_seconds": round(t_prepare, 4),
                 "genre_seconds": round(t_genre, 4), "features_seconds": round(t_prepare - t_genre, 4),
                 "sampling_seconds": round(total - t_prepare - t_cleanup, 4),
                 "cleanup_seconds": round(t_cleanup, 4),
                 "windows": len(windows), "chunks": windows[-1].chunk + 1,
                 "max_windows_in_flight": sampler.max_in_flight, "device": str(self.device)}
        quality = [self.quality(motion[v], windows) for v in range(variations)]
        return GenerationResult(motion, pred, duration, frames, windows, settings, stats,
                                window_motions=sampler.kept if keep_windows else None, quality=quality)

    def _finish(self, motion: Tensor, ref: Tensor | None, ref_mask: Tensor | None, foot_cleanup: bool) -> Tensor:
        """Floor placement (root height only), then optional foot locking; reference entries stay exact."""
        from .motion.floor import place_on_floor

        kept = None if ref_mask is None else ref_mask[:, ROOT.start + 1]
        motion, floor = place_on_floor(motion, self.skeleton, kept=kept)
        if foot_cleanup:
            from .motion.footlock import lock_feet

            motion = lock_feet(motion, self.skeleton, floor=floor)
        if ref is not None and ref_mask is not None:
            motion = torch.where(ref_mask, ref, motion)
        return motion

    def quality(self, motion: Tensor, windows: Sequence[Window] = ()) -> dict[str, object]:
        """Whole-song figures of one (frames, 319) dance (:func:`dancegen.metrics.longform.longform_report`)."""
        from .metrics.longform import longform_report, window_boundaries
        from .motion.kinematics import joints_numpy

        joints = joints_numpy(motion, self.skeleton)
        return longform_report(joints, motion[:, CONTACTS].detach().cpu().numpy(), window_boundaries(windows))
