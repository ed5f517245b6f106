"""The long-form sampling loop behind :class:`~dancegen.pipeline.DancePipeline`: many 4-s windows, one dance.

A song is covered by 4-s windows overlapping by 2 s (:func:`dancegen.longform.plan_windows`). Windows are sampled
together in chunks of ``window_batch`` (one batched denoiser call per step); each window lives in its own frame,
its root re-centred on its first frame as in training, and is placed in song coordinates by a root offset read
from the previous window's prediction at that frame. Three ways to make the windows one dance:

* ``blend`` (default) — soft continuation. After every reverse step, in window order, a window's x̂0 over its overlap
  becomes (1 − r)·(previous window's joined x̂0) + r·(its own), r rising by smoothstep from 0 to 1 across the
  overlap: the window is pulled to its predecessor where they meet and free where the overlap ends, so the
  hand-over is spread over the overlap. The output is the joined windows of the last step. A chunk's first window
  continues the finished motion of the previous chunk, so memory holds one chunk whatever the song length.
* ``consensus`` — averaging while denoising. At every reverse step the windows' x̂0 are moved to song
  coordinates and averaged over their overlaps with weights that rise (smoothstep) across the overlap with the
  previous window and fall across the overlap with the next, normalised to sum to one; each window then continues
  from its slice of the consensus (MultiDiffusion, Bar-Tal et al. 2023, eq. 3–5, applied to x̂0). Overlapping
  windows agree exactly and the output is the consensus; but a window whose two neighbours (which share no frame)
  disagree, say about the facing direction, must bridge them and sometimes turns abruptly in its middle. The first
  window of a chunk blends with the finished motion of the previous chunk (a frozen participant, falling weight).
* ``inpaint`` — the paper's scheme (GCDance eq. 15, EDGE's long-form sampling): after every reverse step the
  first ``overlap`` frames of a window are replaced by q(·, t−1) of the previous window's current x̂0, and the
  finished windows are cross-faded (linear root and contacts, slerped rotations) over the overlap. Kept for
  comparison with published results: the model does not always continue the pasted frames smoothly, which shows as
  a jump where the overlap ends (seam ratio 2.4–8.2 with the bundled model on 60-s songs against 0.8–1.3 for
  ``blend``; see ``docs/dancegen/generation.md``).

Editing constraints use replacement inpainting in every scheme: known reference entries overwrite x̂0 and x_t.

The reverse steps themselves are the pipeline's one denoising loop (:meth:`DancePipeline.denoise
<dancegen.pipeline.DancePipeline.denoise>`); this module joins the windows and applies the constraints through its
step hook, on x̂0 at every step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .longform import Stitcher, Window
from .motion.layout import NUM_CHANNELS, ROOT, WINDOW
from .sampling import Denoising, Noise, StepEdit

#: Ways to join the windows of a song (see the module doc).
LONGFORM_MODES = ("blend", "consensus", "inpaint")
#: ``progress(done, total)``: called after every reverse step; units are window-steps (windows × steps).
ProgressCallback = Callable[[int, int], None]


def smoothstep_ramp(length: int) -> Tensor:
    """Rising weights 3u² − 2u³ at u = (k + ½) / length, k = 0 … length − 1; ``ramp + ramp.flip(0) == 1``."""
    u = (torch.arange(length, dtype=torch.float32) + 0.5) / length
    return u * u * (3.0 - 2.0 * u)


def window_taper(length: int, rise: int, fall: int) -> Tensor:
    """A window's blending weight per frame: a smoothstep rise over its first ``rise`` frames times a fall over
    its last ``fall`` frames (either may be 0)."""
    w = torch.ones(length)
    if rise:
        w[:rise] *= smoothstep_ramp(rise)
    if fall:
        w[length - fall:] *= smoothstep_ramp(fall).flip(0)
    return w


class WindowSampler:
    """One call's chunked sampler (see the module doc); :meth:`run` returns the (V, span, 319) raw motion."""

    def __init__(self, pipe: Denoising, music: Tensor, genre_emb: Tensor, windows: list[Window], variations: int,
                 span: int, ref: Tensor | None, ref_mask: Tensor | None, steps: int, guidance: float, eta: float,
                 seed: int, progress: ProgressCallback | None, keep_windows: bool = False,
                 mode: str = "blend", sampler: str = "ddim") -> None:
        if mode not in LONGFORM_MODES:
            raise ValueError(f"mode must be one of {LONGFORM_MODES}, got {mode!r}")
        self.pipe, self.norm = pipe, pipe.normalizer
        self.dev = pipe.device
        self.music, self.genre_emb, self.windows, self.V = music, genre_emb, windows, variations
        self.steps, self.guidance, self.eta, self.progress = steps, guidance, eta, progress
        self.mode, self.sampler = mode, sampler
        self.noise = Noise.seeded(int(seed), self.dev)  # one generator: every draw of the song, in order
        self.stitcher = Stitcher(variations, span)
        self.max_in_flight = 0
        self.keep_windows = keep_windows
        self.kept: list[Tensor] = []
        self.done, self.total = 0, len(windows) * steps
        # reference values and masks over the whole padded span (frames past the song are never known)
        self.ref: Tensor | None = None
        self.ref_mask: Tensor | None = None
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

    # ------------------------------------------------------------------ the loop
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
        frozen = self._frozen(chunk[0]) if self.mode != "inpaint" else None
        tapers = self._tapers(chunk, frozen is not None) if self.mode == "consensus" else None
        offsets: Tensor | None = None
        song: Tensor | None = None

        def join(x0: Tensor, t: int, t_prev: int) -> StepEdit:
            """The step hook: the windows' x̂0 joined (blend / consensus) or their known overlaps (inpaint), and
            the reference's known entries."""
            nonlocal offsets, song
            if self.mode == "inpaint":
                known, mask, offsets = self._known(chunk, x0, ref_vals, ref_mask)
                return StepEdit(x0, known, mask)
            if tapers is not None:
                x0, offsets, song = self._consensus(chunk, x0, tapers, frozen)
            else:
                x0, offsets, song = self._continue(chunk, x0, frozen)
            known, mask = self._reference(chunk, x0, offsets, ref_vals, ref_mask)
            if ref_vals is not None and ref_mask is not None:  # the joined windows keep the known entries too
                song = torch.where(ref_mask[None], ref_vals[None], song)
            return StepEdit(torch.where(mask, known, x0), known, mask)

        def advanced() -> None:
            self.done += C
            if self.progress is not None:
                self.progress(self.done, self.total)

        x = self.noise.draw((V, C, W, NUM_CHANNELS), self.dev)
        x = self.pipe.denoise(x, music, genre, self.steps, self.guidance, self.eta, self.noise, join, advanced,
                              sampler=self.sampler)
        assert offsets is not None
        if song is not None:  # the joined windows of the last step (x̂0 = x there, up to ddim_step's clipping)
            raw = song
        else:
            raw = self.norm.unnormalize(x)
            raw[..., ROOT] += offsets[:, :, None, :]
        for c, w in enumerate(chunk):
            if self.mode != "inpaint":  # windows already joined while denoising: write, do not cross-fade
                self.stitcher.write(w.start, raw[:, c])
            else:
                self.stitcher.add(w, raw[:, c])
            if self.keep_windows:
                self.kept.append(raw[:, c].to("cpu", copy=True))
        self.prev_x, self.prev_offset = x[:, -1].clone(), offsets[:, -1].clone()

    # ------------------------------------------------------------------ blend and consensus
    def _first_offset(self, frozen: Tensor | None, like: Tensor) -> Tensor:
        """Song-space root of a chunk's first window (V, 3): where the finished motion is, else the carried one."""
        return (frozen[:, 0, ROOT] if frozen is not None else self.prev_offset).to(like)

    def _frozen(self, first: Window) -> Tensor | None:
        """The finished song-space motion over a chunk's first overlap (V, overlap, 319), or None."""
        if not first.overlap or self.stitcher.filled < first.start + first.overlap:
            return None
        return self.stitcher.motion[:, first.start:first.start + first.overlap].to(self.dev)

    def _tapers(self, chunk: list[Window], frozen: bool) -> list[Tensor]:
        """Each window's blending weights (W,): rise over the overlap with its predecessor (in the chunk, or the
        frozen previous motion), fall over the overlap with its successor in the song."""
        out = []
        for c, w in enumerate(chunk):
            rise = w.overlap if (c or frozen) else 0
            fall = self.windows[w.index + 1].overlap if w.index + 1 < len(self.windows) else 0
            out.append(window_taper(w.length, rise, fall).to(self.dev))
        return out

    def _consensus(self, chunk: list[Window], x0: Tensor, tapers: list[Tensor], frozen: Tensor | None
                   ) -> tuple[Tensor, Tensor, Tensor]:
        """``consensus``: the windows' x̂0 replaced by their slices of the weighted song-space average (V, C, W, 319,
        normalised, window frame); the song-space root offsets (V, C, 3) of the windows' first frames; the same
        windows raw in song coordinates."""
        V, C, W, _ = x0.shape
        raw = self.norm.unnormalize(x0)
        s0 = chunk[0].start
        total = torch.zeros(V, chunk[-1].end - s0, NUM_CHANNELS, device=x0.device, dtype=x0.dtype)
        weight = torch.zeros(chunk[-1].end - s0, device=x0.device, dtype=x0.dtype)
        offsets = torch.empty(V, C, 3, device=x0.device, dtype=x0.dtype)
        offsets[:, 0] = self._first_offset(frozen, x0)
        if frozen is not None:
            fall = smoothstep_ramp(frozen.shape[1]).flip(0).to(x0)
            total[:, : frozen.shape[1]] += fall[:, None] * frozen
            weight[: frozen.shape[1]] += fall
        for c, w in enumerate(chunk):
            if c:
                offsets[:, c] = offsets[:, c - 1] + raw[:, c - 1, w.start - chunk[c - 1].start, ROOT]
            song = raw[:, c].clone()
            song[..., ROOT] += offsets[:, c, None]
            a = w.start - s0
            total[:, a:a + W] += tapers[c][:, None] * song
            weight[a:a + W] += tapers[c]
        mean = total / weight[:, None].clamp_min(1e-12)
        song = torch.stack([mean[:, w.start - s0:w.start - s0 + W] for w in chunk], dim=1)
        local = song.clone()
        local[..., ROOT] -= offsets[:, :, None]
        return self.norm.normalize(local), offsets, song

    def _continue(self, chunk: list[Window], x0: Tensor, frozen: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """``blend``: in window order, each window's x̂0 over its overlap becomes (1 − r)·previous + r·own with r
        rising (smoothstep) across the overlap, the previous window's values already joined (soft inpainting).
        Returns the same three tensors as :meth:`_consensus`."""
        raw = self.norm.unnormalize(x0)
        offsets = torch.empty(x0.shape[0], x0.shape[1], 3, device=x0.device, dtype=x0.dtype)
        offsets[:, 0] = self._first_offset(frozen, x0)
        out: list[Tensor] = []
        prev: Tensor | None = frozen
        for c, w in enumerate(chunk):
            song = raw[:, c].clone()
            if c:
                src = out[c - 1]
                offsets[:, c] = offsets[:, c - 1] + src[:, w.start - chunk[c - 1].start, ROOT]
                prev = src[:, w.start - chunk[c - 1].start:].clone()
                prev[..., ROOT] += offsets[:, c - 1, None] - offsets[:, c, None]
            elif prev is not None:
                prev = prev.clone()
                prev[..., ROOT] -= offsets[:, 0, None]
            if prev is not None and w.overlap:
                o = w.overlap
                r = smoothstep_ramp(o).to(song)[:, None]
                song[:, :o] = (1 - r) * prev[:, :o] + r * song[:, :o]
            out.append(song)
        local = torch.stack(out, dim=1)
        song = local.clone()
        song[..., ROOT] += offsets[:, :, None]
        return self.norm.normalize(local), offsets, song

    def _reference(self, chunk: list[Window], x0: Tensor, offsets: Tensor, ref_vals: Tensor | None,
                   ref_mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """Known reference values (V, C, W, 319, normalised, root relative to each window's offset) and mask."""
        V, C, W, _ = x0.shape
        mask = torch.zeros(1, C, W, NUM_CHANNELS, dtype=torch.bool, device=x0.device)
        if ref_vals is None or ref_mask is None:
            return x0, mask
        local = ref_vals.expand(V, C, W, NUM_CHANNELS).clone()
        local[..., ROOT] -= offsets[:, :, None]
        return self.norm.normalize(local), mask | ref_mask[None]

    # ------------------------------------------------------------------ inpaint (the paper's scheme)
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
