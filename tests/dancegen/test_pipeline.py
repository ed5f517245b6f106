"""The inference pipeline: song lengths, long-form overlaps, determinism, variations, constraints, memory bound,
and the ``dpmpp_2m`` sampler through the loop (the solver itself: test_dpm_solver.py)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from dancegen.clip_batch import ClipRequest, generate_clips
from dancegen.constraints import Constraint, constraint_mask, parse_keep
from dancegen.diffusion import DiffusionScheduler
from dancegen.errors import DancegenError
from dancegen.features import build_music_encoder
from dancegen.genre.registry import build_genre_controller
from dancegen.longform import HOP, blend, canonical_rot6d, crossfade_weights, plan_windows
from dancegen.model import GCDanceDenoiser, ModelConfig, MotionNormalizer
from dancegen.motion.layout import NUM_CHANNELS, ROOT, WINDOW
from dancegen.pipeline import SAMPLERS, DancePipeline, check_generation_options
from dancegen.sampling import Noise, StepEdit

SR = 15360


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops on a shared machine: threads only add overhead
    yield
    torch.set_num_threads(threads)


def tiny_pipeline() -> DancePipeline:
    """The tiny random-weight pipeline (STFT music, one-hot genre labels) the sampling tests share."""
    encoder = build_music_encoder("stft")
    controller = build_genre_controller("label", embedding="onehot")
    torch.manual_seed(0)
    model = GCDanceDenoiser(ModelConfig.preset("tiny", music_dim=encoder.dim, genre_dim=controller.embedding_dim))
    return DancePipeline(model, DiffusionScheduler(), MotionNormalizer(), encoder, controller)


@pytest.fixture(scope="module")
def pipe() -> DancePipeline:
    return tiny_pipeline()


def song(seconds: float, seed: int = 0) -> np.ndarray:
    """Clicks on a 120-BPM grid over noise: real audio the encoder can run on."""
    rng = np.random.default_rng(seed)
    n = round(seconds * SR)
    y = 0.05 * rng.standard_normal(n)
    for beat in range(0, n, SR // 2):
        y[beat:beat + 200] += np.hanning(min(200, n - beat))
    return y.astype(np.float32)


# --------------------------------------------------------------------------- window plan and stitching
@pytest.mark.parametrize("frames", [1, 75, 120, 121, 179, 180, 181, 250, 750, 18000])
def test_plan_covers_the_song(frames: int) -> None:
    wins = plan_windows(frames, window_batch=4)
    assert wins[0].start == 0
    assert wins[0].overlap == 0
    assert wins[-1].end == max(frames, WINDOW)
    for prev, w in itertools.pairwise(wins):
        assert w.overlap == prev.end - w.start
        assert (w.overlap == HOP) if w is not wins[-1] else (HOP <= w.overlap < WINDOW)
    assert [w.chunk for w in wins] == [i // 4 for i in range(len(wins))]


def test_blend_endpoints_and_identity() -> None:
    torch.manual_seed(0)
    a, b = torch.randn(2, 60, NUM_CHANNELS), torch.randn(2, 60, NUM_CHANNELS)
    w = crossfade_weights(60)
    assert torch.allclose(w, torch.linspace(0.5 / 60, 1 - 0.5 / 60, 60))
    out = blend(a, b, w)
    assert torch.allclose(out[..., ROOT], a[..., ROOT] + w[:, None] * (b[..., ROOT] - a[..., ROOT]), atol=1e-6)
    # rotations are slerped: halfway between 0° and 90° about y is 45° about y, for every joint
    from dancegen.motion.rotations import axis_angle_to_rot6d, rot6d_to_axis_angle

    r0 = torch.zeros(1, 1, NUM_CHANNELS)
    r0[..., 7:] = axis_angle_to_rot6d(torch.zeros(52, 3)).reshape(-1)
    r1 = r0.clone()
    r1[..., 7:] = axis_angle_to_rot6d(torch.tensor([0.0, torch.pi / 2, 0.0]).expand(52, 3)).reshape(-1)
    half = rot6d_to_axis_angle(blend(r0, r1, torch.tensor([0.5]))[0, 0, 7:].reshape(52, 6))
    assert torch.allclose(half, torch.tensor([0.0, torch.pi / 4, 0.0]).expand(52, 3), atol=1e-5)
    same = blend(a, a, w)
    from dancegen.longform import canonical_rot6d

    assert torch.allclose(same, canonical_rot6d(a), atol=1e-4)


# --------------------------------------------------------------------------- lengths, determinism, variations
@pytest.mark.parametrize("seconds", [2.5, 4.0, 25.0, 4.99])
def test_frames_are_round_duration_times_30(pipe: DancePipeline, seconds: float) -> None:
    res = pipe(song(seconds), SR, genre="Jazz", steps=2, window_batch=4)
    frames = round(seconds * 30)
    assert res.frames == frames
    assert res.motion.shape == (1, frames, NUM_CHANNELS)
    assert torch.isfinite(res.motion).all()
    assert res.genre.genre == "Jazz"
    assert res.genre.source == "label"
    assert res.duration == pytest.approx(seconds, abs=1 / SR)


def test_short_song_zero_and_repeat_padding_differ(pipe: DancePipeline) -> None:
    a = pipe(song(2.5), SR, genre="Jazz", steps=2, pad="repeat")
    b = pipe(song(2.5), SR, genre="Jazz", steps=2, pad="zero")
    assert a.motion.shape == b.motion.shape == (1, 75, NUM_CHANNELS)
    assert not torch.allclose(a.motion, b.motion)


@pytest.mark.parametrize("longform", ["inpaint", "consensus", "blend"])
def test_long_form_windows_join_and_seams_are_smooth(pipe: DancePipeline, longform: str) -> None:
    res = pipe(song(25.0), SR, genre="Popping", steps=3, window_batch=4, keep_windows=True, longform=longform,
               cleanup="none")
    assert res.window_motions is not None
    assert len(res.window_motions) == len(res.windows) == 12
    assert res.stats["chunks"] == 3
    assert res.settings["longform"] == longform
    for prev, w, m_prev, m in zip(res.windows, res.windows[1:], res.window_motions, res.window_motions[1:]):
        d = w.start - prev.start
        if longform == "blend" or (longform == "consensus" and w.chunk != prev.chunk):
            # window i starts where window i−1 is at that frame, then hands over to its own prediction (a chunk's
            # first window blends with the previous chunk's finished motion)
            assert torch.allclose(m[:, 0], m_prev[:, d], atol=2e-2), f"window {w.index}"
        else:
            # window i's first frames are window i−1's last ones (song coordinates, root offset included)
            assert torch.allclose(m[:, : w.overlap], m_prev[:, d:], atol=1e-4), f"window {w.index}"
    if longform != "inpaint":  # the output is every window's motion, later windows over earlier ones
        for w, nxt, m in zip(res.windows, res.windows[1:], res.window_motions):
            own = canonical_rot6d(m[0, : nxt.start - w.start])
            torch.testing.assert_close(res.motion[0, w.start:nxt.start, 7:], own[:, 7:], atol=1e-4, rtol=0)
    motion = res.motion[0]
    jumps = (motion[1:] - motion[:-1]).abs().amax(dim=1)  # jump from frame f to f + 1
    seams = {f for w in res.windows[1:] for f in (w.start - 1, w.start, w.start + w.overlap - 1,
                                                  w.start + w.overlap)} & set(range(len(jumps)))
    inside = [f for f in range(len(jumps)) if f not in seams]
    assert float(jumps[sorted(seams)].max()) <= float(jumps[inside].max()) + 1e-5
    # the root trajectory is carried across windows, not restarted at the origin
    assert float(motion[-1, ROOT].abs().max()) > 0


def test_seed_determinism_and_variations(pipe: DancePipeline) -> None:
    audio = song(6.0)
    a = pipe(audio, SR, genre="Kun", steps=3, seed=7, variations=2)
    b = pipe(audio, SR, genre="Kun", steps=3, seed=7, variations=2)
    c = pipe(audio, SR, genre="Kun", steps=3, seed=8, variations=2)
    assert a.motion.shape == (2, 180, NUM_CHANNELS)
    assert not a.motion.is_inference()
    assert torch.equal(a.motion, b.motion)
    assert not torch.allclose(a.motion, c.motion)
    assert (a.motion[0] - a.motion[1]).abs().mean() > 1e-3


def test_guidance_and_eta_change_the_result(pipe: DancePipeline) -> None:
    audio = song(4.0)
    base = pipe(audio, SR, genre="Jazz", steps=3)
    assert not torch.allclose(base.motion, pipe(audio, SR, genre="Jazz", steps=3, guidance=1.0).motion)
    assert not torch.allclose(base.motion, pipe(audio, SR, genre="Jazz", steps=3, eta=0.0).motion)
    assert not torch.allclose(base.motion, pipe(audio, SR, genre="Dai", steps=3).motion)


def test_progress_counts_window_steps(pipe: DancePipeline) -> None:
    seen: list[tuple[int, int]] = []
    res = pipe(song(9.0), SR, genre="Jazz", steps=3, window_batch=2, progress=lambda d, t: seen.append((d, t)))
    total = len(res.windows) * 3
    assert seen[-1] == (total, total)
    assert all(t == total for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


# --------------------------------------------------------------------------- genre input
def test_text_goes_through_the_controller_and_genre_bypasses_it(pipe: DancePipeline) -> None:
    res = pipe(song(4.0), SR, text="Tai", steps=1)
    assert res.genre.genre == "Dai"
    assert res.genre.top3[0][0] == "Dai"
    assert not res.genre.ambiguous
    res = pipe(song(4.0), SR, text="ignored by the label", genre="hmong", steps=1)
    assert res.genre.genre == "Miao"
    assert res.to_dict()["genre"]["genre"] == "Miao"
    with pytest.raises(DancegenError, match="no genre given"):
        pipe(song(4.0), SR, steps=1)
    with pytest.raises(DancegenError, match="unknown genre"):
        pipe(song(4.0), SR, genre="Polka", steps=1)


# --------------------------------------------------------------------------- constraints
@pytest.fixture(scope="module")
def reference(pipe: DancePipeline) -> torch.Tensor:
    return pipe(song(8.0, seed=1), SR, genre="Jazz", steps=2, seed=123).motion[0]


CONSTRAINTS = {
    "generate hands": [Constraint.generate_hands()],
    "generate legs": [Constraint.generate_legs()],
    "first second": [Constraint.first_seconds(1.0)],
    "keyframes": [Constraint.keyframes([0, 60, 119, 239])],
    "lower + wrist": [Constraint.keep("lower"), Constraint.keep(["left_wrist", "right_wrist"], frames=slice(30, 90))],
}


@pytest.mark.parametrize("name", list(CONSTRAINTS))
def test_constraints_keep_the_known_part_exactly(pipe: DancePipeline, reference: torch.Tensor, name: str) -> None:
    constraints = CONSTRAINTS[name]
    res = pipe(song(8.0, seed=1), SR, genre="Jazz", steps=3, seed=5, constraints=constraints, reference=reference,
               window_batch=2, keep_windows=True)
    mask = constraint_mask(constraints, 240)
    out = res.motion[0]
    assert torch.isfinite(out).all()
    assert torch.equal(out[mask], reference[mask])
    assert (out[~mask] - reference[~mask]).abs().mean() > 1e-3
    # the sampler itself (before the final copy) already reproduces the known entries in song coordinates
    assert res.window_motions is not None
    for w, m in zip(res.windows, res.window_motions):
        wm = mask[w.start:w.end]
        assert torch.allclose(m[0][wm], reference[w.start:w.end][wm], atol=1e-4), f"window {w.index}"


def test_constraint_masks() -> None:
    assert torch.equal(Constraint.keep("body").mask(5), torch.arange(NUM_CHANNELS).lt(139).expand(5, -1))
    hands = Constraint.keep("hands").mask(3)
    assert torch.equal(hands[0], torch.arange(NUM_CHANNELS).ge(139))
    first = Constraint.keep(frames=slice(0, 30)).mask(100)
    assert first[:30].all()
    assert not first[30:].any()
    kf = Constraint.keyframes([0, 60, -1]).mask(120)
    assert kf.any(dim=1).nonzero().flatten().tolist() == [0, 60, 119]
    upper = Constraint.keep("upper").mask(1)[0]
    assert not upper[:7].any()
    assert upper[7:].sum() == 13 * 6
    assert torch.equal(parse_keep("upper,frames=0:60").mask(90), Constraint.keep("upper", slice(0, 60)).mask(90))
    assert torch.equal(parse_keep("frames=10:20").mask(30), Constraint.keep("all", slice(10, 20)).mask(30))


@pytest.mark.parametrize("make", [
    lambda: Constraint.keyframes([0, 500]).mask(120),
    lambda: Constraint.keep("all", frames=slice(0, 200)).mask(120),
    lambda: Constraint.keep("all", frames=slice(50, 40)).mask(120),
    lambda: Constraint.keep("elbows"),
    lambda: parse_keep("frames=3"),
    lambda: parse_keep("frames=a:b"),
])
def test_bad_constraints_raise(make: object) -> None:
    with pytest.raises(DancegenError):
        make()  # type: ignore[operator]


def test_bad_pipeline_inputs(pipe: DancePipeline, reference: torch.Tensor) -> None:
    audio = song(4.0)
    with pytest.raises(DancegenError, match="reference motion"):
        pipe(audio, SR, genre="Jazz", steps=1, constraints=[Constraint.keep("body")])
    with pytest.raises(DancegenError, match="needs constraints"):
        pipe(audio, SR, genre="Jazz", steps=1, reference=reference)
    with pytest.raises(DancegenError, match="only 30 frames"):
        pipe(audio, SR, genre="Jazz", steps=1, constraints=[Constraint.keep("body")], reference=reference[:30])
    with pytest.raises(DancegenError, match="must be"):
        pipe(audio, SR, genre="Jazz", steps=1, constraints=[Constraint.keep("body")], reference=reference[:, :100])
    with pytest.raises(DancegenError, match="pad"):
        pipe(audio, SR, genre="Jazz", steps=1, pad="mirror")
    with pytest.raises(DancegenError):
        pipe(np.zeros(0, dtype=np.float32), SR, genre="Jazz", steps=1)
    with pytest.raises(DancegenError, match="steps"):
        pipe(audio, SR, genre="Jazz", steps=0)
    with pytest.raises(DancegenError, match="music encoder"):
        DancePipeline(pipe.model, pipe.scheduler, pipe.normalizer, build_music_encoder("mfcc"), pipe.genre_controller)


def test_finedance_reference_is_accepted(pipe: DancePipeline, reference: torch.Tensor) -> None:
    fine = reference[:, 4:].numpy()  # (T, 315): contacts are recomputed by forward kinematics
    res = pipe(song(8.0, seed=1), SR, genre="Jazz", steps=1, constraints=[Constraint.keep("upper")], reference=fine)
    mask = Constraint.keep("upper").mask(240)
    assert torch.equal(res.motion[0][mask], reference[mask])


# --------------------------------------------------------------------------- memory bound
def test_ten_minute_song_holds_one_chunk_at_a_time(pipe: DancePipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    batches: list[int] = []  # the denoiser's batch at each step: cond + uncond rows of the windows in flight
    guided_forward = pipe.model.guided_forward

    def recording(x_t: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        batches.append(2 * int(x_t.shape[0]))
        return guided_forward(x_t, *args, **kwargs)

    pipe(song(30.0), SR, genre="Breaking", steps=1, window_batch=8)  # a full chunk once: the peak without the song
    monkeypatch.setattr(pipe.model, "guided_forward", recording)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    res = pipe(song(600.0), SR, genre="Breaking", steps=1, window_batch=8)
    monkeypatch.undo()
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert res.motion.shape == (1, 18000, NUM_CHANNELS)
    assert torch.isfinite(res.motion).all()
    assert len(res.windows) == 299
    assert res.stats["chunks"] == 38
    assert res.stats["max_windows_in_flight"] <= 8
    assert max(batches) == 2 * 8
    assert len(batches) == 38
    # audio (37 MB), features and the output buffer (23 MB) grow with the song; the sampler's tensors do not
    assert grown_mib < 200


# --------------------------------------------------------------------------- batched clips (evaluation)
@pytest.mark.parametrize("eta", [1.0, 0.0])
def test_batched_clips_equal_one_by_one(pipe: DancePipeline, eta: float) -> None:
    reqs = [ClipRequest(song(4.0, 0), SR, seed=3, genre="Jazz"), ClipRequest(song(2.5, 1), SR, seed=7, genre="Dai"),
            ClipRequest(song(4.0, 2), SR, seed=3, genre="Popping"), ClipRequest(song(3.0, 3), SR, seed=11,
                                                                                  genre="Jazz")]
    alone = [pipe(r.audio, r.sr, genre=r.genre, steps=4, seed=r.seed, eta=eta, cleanup="none").motion[0]
             for r in reqs]
    for batch_size in (1, 3, 4):
        got = generate_clips(pipe, reqs, steps=4, eta=eta, batch_size=batch_size)
        assert [g.shape for g in got] == [a.shape for a in alone] == [(120, 319), (75, 319), (120, 319), (90, 319)]
        for g, a in zip(got, alone):
            torch.testing.assert_close(g, a, atol=1e-3, rtol=1e-3)  # batched matmuls round differently
    assert not torch.allclose(alone[0], alone[2])  # same seed, other music and genre: another dance


def test_long_clip_is_refused(pipe: DancePipeline) -> None:
    with pytest.raises(DancegenError, match="at most 120 frames"):
        generate_clips(pipe, [ClipRequest(song(5.0, 0), SR, seed=0, genre="Jazz")], steps=2)


# --------------------------------------------------------------------------- the dpmpp_2m sampler in the loop
class Recorder(DiffusionScheduler):
    """Records the x̂0 each dpmpp_2m_step gets and the history it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[torch.Tensor, torch.Tensor | None, object]] = []

    def dpmpp_2m_step(self, x0_pred, t, t_prev, x_t, prev_x0=None, prev_t=None):  # type: ignore[no-untyped-def]
        self.calls.append((x0_pred.clone(), None if prev_x0 is None else prev_x0.clone(), prev_t))
        return super().dpmpp_2m_step(x0_pred, t, t_prev, x_t, prev_x0, prev_t)


def test_history_is_the_hook_edited_x0(pipe: DancePipeline) -> None:
    rec = Recorder()
    p = DancePipeline(pipe.model, rec, pipe.normalizer, pipe.music_encoder, pipe.genre_controller)
    music = torch.zeros(1, 120, pipe.model.config.music_dim)
    genre = pipe.resolve_genre(genre="Jazz")[1]

    def hook(x0: torch.Tensor, t: int, t_prev: int) -> StepEdit:
        return StepEdit(x0 * 0.5 + t / 10_000)

    noise = Noise.seeded(0)
    p.denoise(noise.draw((1, 120, 319), "cpu"), music, genre, 4, 2.7, 1.0, noise, hook, sampler="dpmpp_2m")
    ts = [t for t, _ in rec.step_pairs(4)]
    assert [c[2] for c in rec.calls] == [None, *ts[:-1]]
    for (x0, _, _), (_, prev, _) in zip(rec.calls, rec.calls[1:]):
        assert prev is not None
        assert torch.equal(prev, x0)


def test_pipeline_dpmpp_2m_is_deterministic_and_differs_from_ddim(pipe: DancePipeline) -> None:
    audio = song(9.0)
    a = pipe(audio, SR, genre="Jazz", steps=4, seed=3, sampler="dpmpp_2m", window_batch=2)
    b = pipe(audio, SR, genre="Jazz", steps=4, seed=3, sampler="dpmpp_2m", window_batch=2, eta=0.3)  # η ignored
    c = pipe(audio, SR, genre="Jazz", steps=4, seed=3, window_batch=2)
    assert a.settings["sampler"] == "dpmpp_2m"
    assert c.settings["sampler"] == "ddim"
    assert torch.isfinite(a.motion).all()
    assert a.motion.shape == c.motion.shape
    torch.testing.assert_close(a.motion, b.motion)
    assert not torch.allclose(a.motion, c.motion)


def test_pipeline_sde_sampler_is_seeded_and_stochastic(pipe: DancePipeline) -> None:
    audio = song(9.0)
    a = pipe(audio, SR, genre="Jazz", steps=4, seed=3, sampler="dpmpp_2m_sde", window_batch=2)
    b = pipe(audio, SR, genre="Jazz", steps=4, seed=3, sampler="dpmpp_2m_sde", window_batch=2)
    c = pipe(audio, SR, genre="Jazz", steps=4, seed=4, sampler="dpmpp_2m_sde", window_batch=2)
    d = pipe(audio, SR, genre="Jazz", steps=4, seed=3, sampler="dpmpp_2m", window_batch=2)
    assert a.settings["sampler"] == "dpmpp_2m_sde"
    torch.testing.assert_close(a.motion, b.motion, rtol=0, atol=0)
    assert torch.isfinite(a.motion).all()
    assert not torch.allclose(a.motion, c.motion)
    assert not torch.allclose(a.motion, d.motion)


def test_precision_needs_cuda_and_compile_gives_the_same_motion(pipe: DancePipeline) -> None:
    with pytest.raises(DancegenError, match="precision bf16 needs a CUDA device"):
        pipe.set_precision("bf16")
    with pytest.raises(DancegenError, match="precision 'fp8'"):
        pipe.set_precision("fp8")
    audio = song(4.0)
    plain = pipe(audio, SR, genre="Jazz", steps=2, seed=1, cleanup="none").motion
    try:
        compiled = pipe.set_precision("fp32", compile=True)(audio, SR, genre="Jazz", steps=2, seed=1,
                                                            cleanup="none").motion
    finally:
        pipe.set_precision("fp32")
    torch.testing.assert_close(compiled, plain, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(("longform", "sampler"), [("blend", "dpmpp_2m"), ("inpaint", "dpmpp_2m"),
                                                   ("blend", "dpmpp_2m_sde"), ("blend", "unipc"),
                                                   ("inpaint", "unipc"), ("consensus", "unipc")])
def test_edit_constraints_hold_with_multistep_samplers(pipe: DancePipeline, longform: str, sampler: str) -> None:
    reference = pipe(song(8.0, seed=1), SR, genre="Jazz", steps=2, seed=123).motion[0]
    constraints = [Constraint.keep("lower"), Constraint.keyframes([0, 119, 239])]
    res = pipe(song(8.0, seed=1), SR, genre="Jazz", steps=5, seed=5, constraints=constraints, reference=reference,
               window_batch=2, keep_windows=True, sampler=sampler, longform=longform)
    mask = constraint_mask(constraints, 240)
    out = res.motion[0]
    assert torch.equal(out[mask], reference[mask])
    assert (out[~mask] - reference[~mask]).abs().mean() > 1e-3
    assert res.window_motions is not None  # the sampler itself reproduces the known entries
    for w, m in zip(res.windows, res.window_motions):
        wm = mask[w.start:w.end]
        assert torch.allclose(m[0][wm], reference[w.start:w.end][wm], atol=1e-4), f"window {w.index}"


@pytest.mark.parametrize("sampler", ["dpmpp_2m", "dpmpp_2m_sde"])
def test_batched_clips_equal_one_by_one_with_dpmpp_2m(pipe: DancePipeline, sampler: str) -> None:
    reqs = [ClipRequest(song(4.0, 0), SR, seed=3, genre="Jazz"), ClipRequest(song(2.5, 1), SR, seed=7, genre="Dai")]
    alone = [pipe(r.audio, r.sr, genre=r.genre, steps=4, seed=r.seed, cleanup="none", sampler=sampler).motion[0]
             for r in reqs]
    got = generate_clips(pipe, reqs, steps=4, batch_size=2, sampler=sampler)
    for g, a in zip(got, alone):
        torch.testing.assert_close(g, a, atol=1e-3, rtol=1e-3)


def test_bad_sampler_is_one_line_error(pipe: DancePipeline) -> None:
    assert SAMPLERS == ("ddim", "dpmpp_2m", "dpmpp_2m_sde", "unipc")
    with pytest.raises(DancegenError, match="--sampler 'euler': expected one of ddim, dpmpp_2m, dpmpp_2m_sde, unipc"):
        check_generation_options(prefix="--", sampler="euler")
    with pytest.raises(DancegenError, match="sampler"):
        pipe(song(4.0), SR, genre="Jazz", steps=2, sampler="dpm")
    with pytest.raises(DancegenError, match="sampler"):
        generate_clips(pipe, [], sampler="dpm")
