"""The inference pipeline: music (+ text or genre) → 319-D dance, any song length, optional editing constraints.

Composes a trained :class:`~dancegen.model.GCDanceDenoiser`, the :class:`~dancegen.diffusion.DiffusionScheduler`, the
:class:`~dancegen.model.MotionNormalizer`, a music encoder and a genre controller::

    pipe = DancePipeline.from_checkpoint("runs/gcdance")
    result = pipe(audio, sr, text="smooth jazz with spins", steps=50, guidance=2.7, seed=0)
    result.motion            # (variations, round(duration * 30), 319), unnormalised

Sampling is DDIM (η = 1 by default) with classifier-free guidance on the music condition (cond and uncond in one
batched forward). Songs are split in 4-s windows overlapping by 2 s (:mod:`dancegen.longform`); windows are sampled
together in chunks of ``window_batch`` and, after every reverse step, the first frames of each window are replaced by
q(·, t−1) of the previous window's current x̂0 over the overlap (inpainting, paper eq. 15, EDGE's long-form scheme).
The first window of a chunk takes its overlap from the final motion of the previous chunk's last window, so memory
holds one chunk whatever the song length. Editing constraints (:mod:`dancegen.constraints`) use the same mechanism
with a reference motion as the known values, and the known entries are copied exactly into the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .constraints import Constraint, constraint_mask
from .diffusion import DiffusionScheduler
from .errors import DancegenError
from .genre.controller import GenrePrediction
from .longform import FPS, HOP, WINDOW, Stitcher, Window, canonical_rot6d, plan_windows
from .motion.layout import FINEDANCE_CHANNELS, NUM_CHANNELS, ROOT

#: ``progress(done, total)``: called after every reverse step; units are window-steps (windows × steps).
ProgressCallback = Callable[[int, int], None]
PAD_MODES = ("repeat", "zero")


@dataclass
class GenerationResult:
    """What :class:`DancePipeline` returns.

    ``motion`` (variations, frames, 319) float32 CPU tensor, unnormalised, root in song coordinates, rotations as
    valid 6D rotations; ``genre`` the genre used (``genre.ambiguous`` → look at ``genre.top3``); ``windows`` the
    sampling windows (song frames, overlaps, chunk); ``settings`` the sampling settings; ``stats`` timings and
    ``max_windows_in_flight`` (windows held at once by the sampler, ≤ ``window_batch``); ``window_motions`` (only
    with ``keep_windows=True``) each window's (variations, 120, 319) motion in song coordinates before stitching.
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

    @property
    def variations(self) -> int:
        return int(self.motion.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (everything but the motion array)."""
        return {"genre": self.genre.to_dict(), "duration": round(self.duration, 4), "frames": self.frames,
                "fps": self.fps, "variations": self.variations, "settings": self.settings, "stats": self.stats,
                "windows": [w.to_dict() for w in self.windows]}


def default_checkpoint_dir() -> Path:
    """The bundled default model's checkpoint folder (used when no checkpoint is given).

    The small demo model trained on the procedural data set (``dancegen/assets/default_model``, see
    ``docs/dancegen/demo.md``); raises :class:`~dancegen.errors.MissingWeightsError` if the install lacks it.
    """
    from .errors import MissingWeightsError

    folder = Path(__file__).resolve().parent / "assets" / "default_model"
    if not (folder / "config.json").is_file():
        raise MissingWeightsError(f"the bundled dancegen model is missing from {folder}: reinstall dancegen, "
                                  "rebuild it with `dancegen demo --retrain --install`, or pass --checkpoint DIR")
    return folder


class DancePipeline:
    """Inference-only GCDance sampler (see the module doc). Build it from objects or :meth:`from_checkpoint`."""

    def __init__(self, model: nn.Module, scheduler: DiffusionScheduler, normalizer: nn.Module, music_encoder: Any,
                 genre_controller: nn.Module, skeleton: Any = None, checkpoint_id: str | None = None) -> None:
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
        if skeleton is None:
            from .motion import Skeleton

            skeleton = Skeleton.default()
        self.skeleton = skeleton
        self.checkpoint_id = checkpoint_id

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, device: str | torch.device = "cpu", ema: bool = True
                        ) -> DancePipeline:
        """Load model (EMA weights by default), normaliser, music encoder, genre controller and skeleton from a
        training checkpoint folder or a run folder with a ``latest`` pointer (None: :func:`default_checkpoint_dir`)."""
        folder = default_checkpoint_dir() if path is None else Path(path)
        parts = _load_checkpoint_parts(folder, ema=ema)
        return cls(parts["model"], DiffusionScheduler(), parts["normalizer"], parts["music_encoder"],
                   parts["genre_controller"], parts["skeleton"], checkpoint_id=parts["checkpoint_id"]).to(device)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> DancePipeline:
        """Move the model, normaliser and controller to ``device`` (music features are computed on the CPU)."""
        self.model.to(device)
        self.normalizer.to(device)
        self.genre_controller.to(device)
        return self

    # ------------------------------------------------------------------ inputs
    def resolve_genre(self, text: str | None = None, genre: str | None = None) -> tuple[GenrePrediction, Tensor]:
        """The genre (text through the controller, or a label that bypasses it) and its embedding C_E (1, D)."""
        from .genre.genres import GENRES, genre_index

        if genre is not None:
            idx = genre_index(genre)
            probs = {g: (1.0 if i == idx else 0.0) for i, g in enumerate(GENRES)}
            top3 = [(GENRES[idx], 1.0), *[(g, 0.0) for i, g in enumerate(GENRES) if i != idx][:2]]
            pred = GenrePrediction(text=text or GENRES[idx], genre=GENRES[idx], index=idx, probabilities=probs,
                                   top3=top3, ambiguous=False, source="label")
        elif text is not None:
            pred = self.genre_controller.predict(text)
        else:
            raise DancegenError("no genre given: pass text= (a description of the dance or music) or genre= (one of: "
                                + ", ".join(GENRES) + ")")
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

    def prepare_reference(self, reference: Any, frames: int, mask: Tensor) -> Tensor:
        """A reference motion as (frames, 319) raw float32: (T, 319) ours or (T, 315) FineDance (contacts computed).

        It must cover every constrained frame; frames past its end are generated freely."""
        from .motion.layout import from_finedance

        ref = torch.as_tensor(np.asarray(reference) if not isinstance(reference, Tensor) else reference)
        ref = ref.detach().to("cpu", torch.float32)
        if ref.ndim == 3 and ref.shape[0] == 1:
            ref = ref[0]
        if ref.ndim != 2 or ref.shape[-1] not in (NUM_CHANNELS, FINEDANCE_CHANNELS):
            raise DancegenError(f"reference motion must be (frames, {NUM_CHANNELS}) or (frames, {FINEDANCE_CHANNELS}), "
                                f"got {tuple(ref.shape)}")
        if not bool(torch.isfinite(ref).all()):
            raise DancegenError("reference motion contains NaN or Inf")
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
    def __call__(self, audio: np.ndarray, sr: int, text: str | None = None, genre: str | None = None,
                 steps: int = 50, guidance: float = 2.7, eta: float = 1.0, seed: int = 0, variations: int = 1,
                 constraints: Sequence[Constraint] = (), reference: Any = None, window_batch: int = 16,
                 progress: ProgressCallback | None = None, pad: str = "repeat", keep_windows: bool = False,
                 song_key: str | None = None) -> GenerationResult:
        """Generate ``variations`` dances for ``audio`` (samples at ``sr`` Hz) in the genre of ``text`` / ``genre``.

        ``constraints`` + ``reference`` edit a reference motion (its masked entries are kept). ``window_batch``
        windows are sampled at once (memory ∝ variations × window_batch). Results depend on ``seed`` and on
        ``window_batch`` (chunk boundaries use the previous chunk's final motion). ``pad``: how a song shorter than
        4 s is padded and ``song_key`` (see :meth:`encode_music`). ``keep_windows`` keeps every window's
        motion (debugging).
        """
        with torch.inference_mode():
            result = self._generate(audio, sr, text, genre, steps, guidance, eta, seed, variations, constraints,
                                    reference, window_batch, progress, pad, keep_windows, song_key)
        # plain tensors (not inference tensors), so callers may modify them in place
        result.motion = result.motion.clone()
        if result.window_motions is not None:
            result.window_motions = [m.clone() for m in result.window_motions]
        return result

    def _generate(self, audio: np.ndarray, sr: int, text: str | None, genre: str | None, steps: int,
                  guidance: float, eta: float, seed: int, variations: int, constraints: Sequence[Constraint],
                  reference: Any, window_batch: int, progress: ProgressCallback | None, pad: str,
                  keep_windows: bool, song_key: str | None) -> GenerationResult:
        t0 = time.perf_counter()
        if variations < 1:
            raise DancegenError(f"variations must be >= 1, got {variations}")
        if steps < 1:
            raise DancegenError(f"steps must be >= 1, got {steps}")
        constraints = list(constraints)
        if constraints and reference is None:
            raise DancegenError("constraints need a reference motion to take the kept values from (reference=)")
        if reference is not None and not constraints:
            raise DancegenError("a reference motion needs constraints saying what to keep, e.g. "
                                "Constraint.keep('body') or Constraint.keyframes([0, 60, 119])")
        pred, genre_emb = self.resolve_genre(text, genre)
        music, duration, frames = self.encode_music(audio, sr, pad, song_key)
        t_prepare = time.perf_counter() - t0
        windows = plan_windows(frames, WINDOW, HOP, window_batch)
        span = max(frames, WINDOW)
        ref_mask = ref = None
        if reference is not None:
            ref_mask = constraint_mask(constraints, frames)
            ref = self.prepare_reference(reference, frames, ref_mask)
        sampler = _WindowSampler(self, music, genre_emb, windows, variations, span, ref, ref_mask, steps,
                                 guidance, eta, seed, progress, keep_windows)
        motion = sampler.run()[:, :frames]
        motion = canonical_rot6d(motion)
        if ref is not None and ref_mask is not None:
            motion = torch.where(ref_mask, ref, motion)  # the known part, exactly
        settings = {"steps": steps, "guidance": guidance, "eta": eta, "seed": seed, "variations": variations,
                    "window_batch": window_batch, "pad": pad, "window": WINDOW, "hop": HOP,
                    "constraints": [repr(c) for c in constraints], "edited": reference is not None,
                    "checkpoint": self.checkpoint_id}
        total = time.perf_counter() - t0
        stats = {"seconds": round(total, 4), "prepare_seconds": round(t_prepare, 4),
                 "sampling_seconds": round(total - t_prepare, 4),
                 "windows": len(windows), "chunks": windows[-1].chunk + 1,
                 "max_windows_in_flight": sampler.max_in_flight, "device": str(self.device)}
        return GenerationResult(motion, pred, duration, frames, windows, settings, stats,
                                window_motions=sampler.kept if keep_windows else None)


class _WindowSampler:
    """The chunked wavefront sampler behind :meth:`DancePipeline.__call__` (one instance per call)."""

    def __init__(self, pipe: DancePipeline, music: Tensor, genre_emb: Tensor, windows: list[Window],
                 variations: int, span: int, ref: Tensor | None, ref_mask: Tensor | None, steps: int,
                 guidance: float, eta: float, seed: int, progress: ProgressCallback | None,
                 keep_windows: bool = False) -> None:
        self.model, self.sched, self.norm = pipe.model, pipe.scheduler, pipe.normalizer
        self.dev = pipe.device
        self.music, self.genre_emb, self.windows, self.V = music, genre_emb, windows, variations
        self.steps, self.guidance, self.eta, self.progress = steps, guidance, eta, progress
        self.generator = torch.Generator(device=self.dev).manual_seed(int(seed))
        self.stitcher = Stitcher(variations, span)
        self.max_in_flight = 0
        self.keep_windows = keep_windows
        self.kept: list[Tensor] = []
        self.done, self.total = 0, len(windows) * steps
        # reference values and masks over the whole padded span (frames past the song are never known)
        self.ref = self.ref_mask = None
        if ref is not None and ref_mask is not None:
            self.ref = torch.zeros(span, NUM_CHANNELS)
            self.ref[: ref.shape[0]] = ref
            self.ref_mask = torch.zeros(span, NUM_CHANNELS, dtype=torch.bool)
            self.ref_mask[: ref_mask.shape[0]] = ref_mask
        # carried from the previous chunk: its last window's final normalised motion and song-space root offset
        self.prev_x: Tensor | None = None
        self.prev_offset = torch.zeros(variations, 3, device=self.dev)
        if self.ref is not None:
            self.prev_offset[:] = self.ref[0, ROOT].to(self.dev)  # the dance starts where the reference starts

    def run(self) -> Tensor:
        chunks: dict[int, list[Window]] = {}
        for w in self.windows:
            chunks.setdefault(w.chunk, []).append(w)
        for chunk in chunks.values():
            self._sample_chunk(chunk)
        return self.stitcher.motion

    def _sample_chunk(self, chunk: list[Window]) -> None:
        V, C, W = self.V, len(chunk), WINDOW
        self.max_in_flight = max(self.max_in_flight, C)
        music = torch.stack([self.music[w.start:w.end] for w in chunk]).to(self.dev)
        music = music.expand(V, *music.shape).reshape(V * C, W, -1)
        genre = self.genre_emb.expand(V * C, -1)
        ref_vals = ref_mask = None
        if self.ref is not None and self.ref_mask is not None:
            ref_vals = torch.stack([self.ref[w.start:w.end] for w in chunk]).to(self.dev)
            ref_mask = torch.stack([self.ref_mask[w.start:w.end] for w in chunk]).to(self.dev)
        x = torch.randn((V, C, W, NUM_CHANNELS), generator=self.generator, device=self.dev)
        known = mask = offsets = None
        for t, t_prev in self.sched.step_pairs(self.steps):
            tt = torch.full((V * C,), t, dtype=torch.long, device=self.dev)
            x0 = self.model.guided_forward(x.reshape(V * C, W, NUM_CHANNELS), tt, music, genre, self.guidance)
            x0 = self.sched.maybe_clip(x0.view(V, C, W, NUM_CHANNELS))
            known, mask, offsets = self._known(chunk, x0, ref_vals, ref_mask)
            x = self.sched.ddim_step(x0, t, t_prev, x, eta=self.eta, generator=self.generator)
            if bool(mask.any()):
                x = self.sched.replace_known(x, known, mask.expand_as(x), t_prev, generator=self.generator)
            self.done += C
            if self.progress is not None:
                self.progress(self.done, self.total)
        assert offsets is not None
        raw = self.norm.unnormalize(x)
        raw[..., ROOT] += offsets[:, :, None, :]
        for c, w in enumerate(chunk):
            self.stitcher.add(w, raw[:, c])
            if self.keep_windows:
                self.kept.append(raw[:, c].to("cpu", copy=True))
        self.prev_x, self.prev_offset = x[:, -1].clone(), offsets[:, -1].clone()

    def _known(self, chunk: list[Window], x0: Tensor, ref_vals: Tensor | None, ref_mask: Tensor | None
               ) -> tuple[Tensor, Tensor, Tensor]:
        """Known values (V, C, W, 319, normalised), mask (1, C, W, 319) and song-space root offsets (V, C, 3).

        Window i's first ``overlap`` frames are the previous window's completed x̂0 from frame ``start_i −
        start_{i−1}`` on, re-centred on that frame's root; reference entries (root taken relative to the window's
        song-space offset) override them. Windows are completed in order because each feeds the next.
        """
        V, C, W, _ = x0.shape
        known = torch.zeros_like(x0)
        mask = torch.zeros(1, C, W, NUM_CHANNELS, dtype=torch.bool, device=x0.device)
        offsets = torch.zeros(V, C, 3, device=x0.device)
        completed: list[Tensor] = []
        for c, w in enumerate(chunk):
            src, src_off = (completed[c - 1], offsets[:, c - 1]) if c else (self.prev_x, self.prev_offset)
            if w.overlap and src is not None:
                tail = self.norm.unnormalize(src[:, W - w.overlap:])
                anchor = tail[:, 0, ROOT].clone()
                tail[..., ROOT] -= anchor[:, None]
                known[:, c, : w.overlap] = self.norm.normalize(tail)
                mask[:, c, : w.overlap] = True
                offsets[:, c] = src_off + anchor
            else:  # the song's first window: starts at the reference's root (or the origin)
                offsets[:, c] = self.prev_offset
            if ref_vals is not None and ref_mask is not None:
                local = ref_vals[c].expand(V, W, NUM_CHANNELS).clone()
                local[..., ROOT] -= offsets[:, c, None]
                known[:, c] = torch.where(ref_mask[c], self.norm.normalize(local), known[:, c])
                mask[0, c] |= ref_mask[c]
            completed.append(torch.where(mask[:, c], known[:, c], x0[:, c]))
        return known, mask, offsets


def _load_checkpoint_parts(path: Path, ema: bool = True) -> dict[str, Any]:
    """Rebuild the inference parts from a ``dancegen train`` checkpoint (see :mod:`dancegen.train.checkpoint`)."""
    import hashlib

    from .features import build_music_encoder
    from .genre.controller import build_genre_controller
    from .model import GCDanceDenoiser, ModelConfig, MotionNormalizer
    from .motion import Skeleton
    from .train.checkpoint import latest_checkpoint, load_flat, read_config

    if not path.exists():
        raise DancegenError(f"checkpoint {path} does not exist")
    folder = latest_checkpoint(path)
    if folder is None:
        raise DancegenError(f"{path} is neither a checkpoint folder (config.json + model.safetensors) nor a run "
                            "folder with a 'latest' pointer")
    cfg = read_config(folder)
    try:
        model = GCDanceDenoiser(ModelConfig.from_dict(cfg["model"]))
        weights = load_flat(folder, "ema" if ema else "model")
        model_state = {k: v for k, v in weights.items() if not k.startswith("controller.")}
        ctrl_state = {k[len("controller."):]: v for k, v in weights.items() if k.startswith("controller.")}
        model.load_state_dict(model_state)
        norm_t = load_flat(folder, "normalizer")
        normalizer = MotionNormalizer(norm_t["shift"].shape[0], cfg.get("normalizer", {}).get("mode", "minmax"))
        normalizer.shift.copy_(norm_t["shift"])
        normalizer.scale.copy_(norm_t["scale"])
        enc_cfg = cfg["music_encoder"]
        options = dict(cfg.get("train", {}).get("encoder_options") or {})
        if enc_cfg.get("allow_random_weights"):
            options["allow_random_weights"] = True
        encoder = build_music_encoder(enc_cfg["spec"], **options)
        if encoder.config_hash() != enc_cfg.get("config_hash", encoder.config_hash()):
            raise DancegenError(f"the music encoder {enc_cfg['spec']!r} built here differs from the one the checkpoint "
                                "was trained with (other weights or options); install the same encoder weights")
        controller = build_genre_controller(cfg["genre_controller"]["config"])
        if ctrl_state:
            controller.load_state_dict(ctrl_state)
        skel_cfg = cfg.get("skeleton") or {}
        skeleton = (Skeleton(torch.tensor(skel_cfg["rest_joints"]), str(skel_cfg.get("source", "checkpoint")))
                    if "rest_joints" in skel_cfg else Skeleton.default())
    except (KeyError, RuntimeError, TypeError) as exc:
        raise DancegenError(f"checkpoint {folder} is incomplete or from another version: {exc}".splitlines()[0]
                            ) from None
    digest = hashlib.sha256((folder / "config.json").read_bytes()).hexdigest()[:12]
    return {"model": model.eval(), "normalizer": normalizer, "music_encoder": encoder, "genre_controller": controller,
            "skeleton": skeleton, "checkpoint_id": f"{folder.name}-{digest}{'' if ema else '-raw'}"}
