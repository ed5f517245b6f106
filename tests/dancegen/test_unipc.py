"""UniPC (``sampler="unipc"``): the scheduler step against diffusers' reference trajectories
(references/unipc/make_reference.py), its properties, and the sampler through the denoising loop — long-form
windows, edits, batched clips."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from test_pipeline import _one_thread as _one_thread  # the autouse fixture (one thread), shared
from test_pipeline import song, tiny_pipeline

from dancegen.clip_batch import ClipRequest, generate_clips
from dancegen.diffusion import DiffusionScheduler, UniPCState
from dancegen.errors import DancegenError
from dancegen.pipeline import DancePipeline, check_generation_options
from dancegen.sampling import Noise, StepEdit

REFERENCE = Path(__file__).resolve().parents[2] / "references" / "unipc" / "unipc_reference.npz"
SR = 15360


def toy_x0(x: torch.Tensor, t: int, phase: torch.Tensor) -> torch.Tensor:
    """The toy x0-predictor of references/unipc/make_reference.py (and references/dpm_solver/)."""
    u = t / 1000
    return torch.tanh(0.8 * x / math.sqrt(1.0 + 3.0 * u) + 0.3 * torch.cos(phase + 4.0 * u))


def run_unipc(sched: DiffusionScheduler, x: torch.Tensor, steps: int, phase: torch.Tensor,
              **options: object) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The samples the model is evaluated at (then x_0), and the corrected samples each predictor starts from."""
    state = UniPCState(steps, **options)  # type: ignore[arg-type]
    xs, corrected = [x], []
    for t, t_prev in sched.step_pairs(steps):
        x = sched.unipc_step(toy_x0(x, t, phase), t, t_prev, x, state)
        assert state.x_from is not None
        xs.append(x)
        corrected.append(state.x_from)
    return xs, corrected


def stack(xs: list[torch.Tensor]) -> np.ndarray:
    return np.stack([x.double().numpy() for x in xs])


# --------------------------------------------------------------------------- the scheduler step
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("steps", [10, 20])
@pytest.mark.parametrize(("variant", "order"), [("bh2", 2), ("bh2", 3), ("bh2", 1), ("bh1", 2)])
def test_matches_diffusers_reference_trajectory(variant: str, order: int, steps: int, dtype: torch.dtype) -> None:
    ref = np.load(REFERENCE)
    sched = DiffusionScheduler()
    np.testing.assert_allclose(ref["betas"], sched.betas.numpy(), rtol=0, atol=1e-15)
    assert sched.set_timesteps(steps).tolist() == ref[f"timesteps_{steps}"].tolist()  # the same spacing
    x_T, phase = torch.from_numpy(ref["x_T"]).to(dtype), torch.from_numpy(ref["phase"]).to(dtype)
    xs, corrected = run_unipc(sched, x_T, steps, phase, order=order, variant=variant)
    key = f"{variant}_o{order}_{steps}"
    want, got = ref[f"x_{key}"], stack(xs)
    assert got.shape == want.shape
    if variant == "bh1":  # diffusers' bh1 step to σ = 0 is NaN (−∞ · 0); ours returns x̂0 there
        assert np.isnan(want[-1]).all()
        np.testing.assert_allclose(got[-1], toy_x0(xs[-2], 99 if steps == 10 else 49, phase).double().numpy())
        want, got = want[:-1], got[:-1]
    # diffusers keeps its schedule in float32: agreement to ~1e-6 over the whole trajectory
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    np.testing.assert_allclose(stack(corrected), ref[f"xc_{key}"], rtol=0, atol=1e-5)


def test_without_the_corrector_it_is_dpmpp_2m() -> None:
    sched = DiffusionScheduler()
    g = torch.Generator().manual_seed(0)
    x_T = torch.randn(2, 6, 5, generator=g, dtype=torch.float64)
    phase = torch.rand(6, 5, generator=g, dtype=torch.float64) * 2 * math.pi
    xs, _ = run_unipc(sched, x_T, 10, phase, corrector=False)
    x, prev = x_T, None
    for (t, t_prev), got in zip(sched.step_pairs(10), xs[1:]):
        x0 = toy_x0(x, t, phase)
        x = sched.dpmpp_2m_step(x0, t, t_prev, x, *(prev or (None, None)))
        prev = (x0, t)
        torch.testing.assert_close(got, x, rtol=0, atol=1e-12)
    with_corrector, _ = run_unipc(sched, x_T, 10, phase)
    assert (with_corrector[-1] - xs[-1]).abs().max() > 1e-4


@pytest.mark.parametrize("order", [1, 2, 3])
def test_perfect_x0_stays_on_q_and_first_step_is_ddim_eta_zero(order: int) -> None:
    sched = DiffusionScheduler()
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, 30, 8, generator=g, dtype=torch.float64) * 2 - 1
    eps = torch.randn(2, 30, 8, generator=g, dtype=torch.float64)
    x = sched.add_noise(x0, eps, 999)
    torch.testing.assert_close(sched.unipc_step(x0 * 0.5, 999, 899, x, UniPCState(10, order=order)),
                               sched.ddim_step(x0 * 0.5, 999, 899, x, eta=0.0))
    state = UniPCState(10, order=order)
    for t, t_prev in sched.step_pairs(10):  # a constant x̂0 = x0: predictor and corrector stay on q(x_t | x0)
        x = sched.unipc_step(x0, t, t_prev, x, state)
        target = x0 if t_prev < 0 else sched.add_noise(x0, eps, t_prev)
        torch.testing.assert_close(x, target, atol=1e-10, rtol=1e-10)
        assert state.x_from is not None
        torch.testing.assert_close(state.x_from, sched.add_noise(x0, eps, t), atol=1e-10, rtol=1e-10)


def test_orders_warm_up_and_lower_at_the_end() -> None:
    sched = DiffusionScheduler()
    x = torch.randn(1, 4, 3, generator=torch.Generator().manual_seed(0))
    for order, want in ((2, [1, 2, 2, 2, 1]), (3, [1, 2, 3, 2, 1]), (1, [1, 1, 1, 1, 1])):
        state, used = UniPCState(5, order=order), []
        for t, t_prev in sched.step_pairs(5):
            x_next = sched.unipc_step(torch.tanh(x), t, t_prev, x, state)
            used.append(state.order_used)
            assert len(state.x0s) == len(state.ts) <= order
            x = x_next
        assert used == want


def test_keep_leaves_the_given_entries_uncorrected() -> None:
    sched = DiffusionScheduler()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 10, 4, generator=g)
    plain, kept = UniPCState(4), UniPCState(4)
    pairs = sched.step_pairs(4)
    t, t_prev = pairs[0]
    a = sched.unipc_step(torch.tanh(x), t, t_prev, x, plain)
    b = sched.unipc_step(torch.tanh(x), t, t_prev, x, kept)
    torch.testing.assert_close(a, b)
    pasted = a.clone()
    pasted[:, :3] = 7.0  # e.g. known entries pasted in after the step
    mask = torch.zeros(2, 10, 4, dtype=torch.bool)
    mask[:, :3] = True
    t, t_prev = pairs[1]
    x0 = torch.tanh(pasted) * 0.9
    sched.unipc_step(x0, t, t_prev, pasted, plain)
    sched.unipc_step(x0, t, t_prev, pasted, kept, keep=mask)
    assert plain.x_from is not None
    assert kept.x_from is not None
    assert torch.equal(kept.x_from[mask], pasted[mask])  # kept as pasted
    assert torch.equal(kept.x_from[~mask], plain.x_from[~mask])  # corrected as without a mask
    assert not torch.allclose(plain.x_from[~mask], pasted[~mask])  # (the corrector did move them)


def test_per_sample_timesteps_equal_int_timesteps() -> None:
    sched = DiffusionScheduler()
    x = torch.randn(3, 6, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    phase = torch.zeros(6, 4, dtype=torch.float64)
    for order in (2, 3):
        a, b = UniPCState(6, order=order), UniPCState(6, order=order)
        xa = xb = x
        for t, t_prev in sched.step_pairs(6):
            tt, tp = torch.full((3,), t), torch.full((3,), t_prev)
            xa = sched.unipc_step(toy_x0(xa, t, phase), t, t_prev, xa, a)
            xb = sched.unipc_step(toy_x0(xb, t, phase), tt, tp, xb, b)
            torch.testing.assert_close(xa, xb, rtol=0, atol=1e-12)


def test_bad_calls() -> None:
    sched = DiffusionScheduler()
    x = torch.zeros(1, 4, 3)
    with pytest.raises(DancegenError, match="t_prev < t"):
        sched.unipc_step(x, 100, 100, x, UniPCState(3))
    state = UniPCState(2)
    sched.unipc_step(x, 100, 50, x, state)
    with pytest.raises(DancegenError, match="went to t=50, this one starts at t=40"):
        sched.unipc_step(x, 40, 20, x, state)
    sched.unipc_step(x + 0.3, 50, -1, x, state)
    with pytest.raises(DancegenError, match="steps are done"):
        sched.unipc_step(x, 40, 20, x, state)
    torch.testing.assert_close(sched.unipc_step(x + 0.3, 19, -1, x, UniPCState(1)), x + 0.3)  # x̂0 at the end
    with pytest.raises(DancegenError, match="order"):
        UniPCState(10, order=4)
    with pytest.raises(DancegenError, match="variant"):
        UniPCState(10, variant="bh3")
    with pytest.raises(DancegenError, match="num_steps"):
        UniPCState(0)


# --------------------------------------------------------------------------- the sampler in the loop
# the tiny pipeline, the test song and one thread: shared with test_pipeline.py
@pytest.fixture(scope="module")
def pipe() -> DancePipeline:
    return tiny_pipeline()


class Recorder(DiffusionScheduler):
    """Records what each unipc_step gets: x̂0, x_t, the keep mask, and the state's history after the step."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict[str, Any]] = []

    def unipc_step(self, x0_pred, t, t_prev, x_t, state, keep=None):  # type: ignore[no-untyped-def]
        out = super().unipc_step(x0_pred, t, t_prev, x_t, state, keep)
        self.calls.append({"x0": x0_pred.clone(), "x_t": x_t.clone(), "keep": None if keep is None else keep.clone(),
                           "history": [h.clone() for h in state.x0s], "x_from": state.x_from.clone(),
                           "out": out.clone()})
        return out


def test_loop_history_is_the_hook_edited_x0_and_pasted_entries_are_kept(pipe: DancePipeline) -> None:
    rec = Recorder()
    p = DancePipeline(pipe.model, rec, pipe.normalizer, pipe.music_encoder, pipe.genre_controller)
    music = torch.zeros(1, 120, pipe.model.config.music_dim)
    genre = pipe.resolve_genre(genre="Jazz")[1]
    known = torch.full((1, 120, 319), 0.25)
    mask = torch.zeros(1, 120, 319, dtype=torch.bool)
    mask[:, :30] = True

    def hook(x0: torch.Tensor, t: int, t_prev: int) -> StepEdit:
        return StepEdit(torch.where(mask, known, x0 * 0.5 + t / 10_000), known, mask)

    noise = Noise.seeded(0)
    out = p.denoise(noise.draw((1, 120, 319), "cpu"), music, genre, 5, 2.7, 1.0, noise, hook, sampler="unipc")
    assert len(rec.calls) == 5
    assert rec.calls[0]["keep"] is None
    for prev, call in zip(rec.calls, rec.calls[1:]):
        history = call["history"]
        assert torch.equal(history[-2], prev["x0"])
        assert torch.equal(history[-1], call["x0"])
        keep, x_t, x_from = call["keep"], call["x_t"], call["x_from"]
        assert keep is not None
        assert torch.equal(keep, mask)
        assert torch.equal(x_from[mask], x_t[mask])  # the pasted q(known, t) draws, not corrected
        assert not torch.equal(x_from[~mask], x_t[~mask])  # the rest corrected
    assert torch.equal(out[mask], known[mask])  # the last step pastes them clean


def test_pipeline_unipc_is_deterministic_and_differs_from_the_others(pipe: DancePipeline) -> None:
    check_generation_options(sampler="unipc")
    audio = song(9.0)
    a = pipe(audio, SR, genre="Jazz", steps=4, seed=3, sampler="unipc", window_batch=2)
    b = pipe(audio, SR, genre="Jazz", steps=4, seed=3, sampler="unipc", window_batch=2, eta=0.3)  # η ignored
    c = pipe(audio, SR, genre="Jazz", steps=4, seed=3, sampler="dpmpp_2m", window_batch=2)
    d = pipe(audio, SR, genre="Jazz", steps=4, seed=4, sampler="unipc", window_batch=2)
    assert a.settings["sampler"] == "unipc"
    assert a.stats["chunks"] > 1  # long-form: several chunks of windows
    assert torch.isfinite(a.motion).all()
    torch.testing.assert_close(a.motion, b.motion, rtol=0, atol=0)
    assert not torch.allclose(a.motion, c.motion)
    assert not torch.allclose(a.motion, d.motion)


# edits with unipc (blend, inpaint, consensus): test_pipeline.py::test_edit_constraints_hold_with_multistep_samplers


def test_batched_clips_equal_one_by_one_with_unipc(pipe: DancePipeline) -> None:
    reqs = [ClipRequest(song(4.0, 0), SR, seed=3, genre="Jazz"), ClipRequest(song(2.5, 1), SR, seed=7, genre="Dai")]
    alone = [pipe(r.audio, r.sr, genre=r.genre, steps=4, seed=r.seed, cleanup="none", sampler="unipc").motion[0]
             for r in reqs]
    got = generate_clips(pipe, reqs, steps=4, batch_size=2, sampler="unipc")
    for g, a in zip(got, alone):
        torch.testing.assert_close(g, a, atol=1e-3, rtol=1e-3)
