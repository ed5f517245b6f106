"""DPM-Solver++(2M): the scheduler step against diffusers' reference trajectories, and the ``sampler`` option
through the denoising loop (long-form windows, edits, batched clips, the CLI)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from dancegen.clip_batch import ClipRequest, generate_clips
from dancegen.constraints import Constraint, constraint_mask
from dancegen.diffusion import DiffusionScheduler
from dancegen.errors import DancegenError
from dancegen.features import build_music_encoder
from dancegen.genre.registry import build_genre_controller
from dancegen.model import GCDanceDenoiser, ModelConfig, MotionNormalizer
from dancegen.pipeline import SAMPLERS, DancePipeline, check_generation_options
from dancegen.sampling import Noise, StepEdit

REFERENCE = Path(__file__).resolve().parents[2] / "references" / "dpm_solver" / "dpmpp_2m_reference.npz"
SR = 15360


def toy_x0(x: torch.Tensor, t: int, phase: torch.Tensor) -> torch.Tensor:
    """The toy x0-predictor of references/dpm_solver/make_reference.py."""
    u = t / 1000
    return torch.tanh(0.8 * x / math.sqrt(1.0 + 3.0 * u) + 0.3 * torch.cos(phase + 4.0 * u))


def run_2m(sched: DiffusionScheduler, x: torch.Tensor, steps: int, phase: torch.Tensor) -> list[torch.Tensor]:
    xs, prev = [x], None
    for t, t_prev in sched.step_pairs(steps):
        x0 = toy_x0(x, t, phase)
        x = sched.dpmpp_2m_step(x0, t, t_prev, x, *(prev or (None, None)))
        prev = (x0, t)
        xs.append(x)
    return xs


# --------------------------------------------------------------------------- the scheduler step
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("steps", [10, 20])
def test_matches_diffusers_reference_trajectory(steps: int, dtype: torch.dtype) -> None:
    ref = np.load(REFERENCE)
    sched = DiffusionScheduler()
    np.testing.assert_allclose(ref["betas"], sched.betas.numpy(), rtol=0, atol=1e-15)
    assert sched.set_timesteps(steps).tolist() == ref[f"timesteps_{steps}"].tolist()  # the same spacing
    xs = run_2m(sched, torch.from_numpy(ref["x_T"]).to(dtype), steps, torch.from_numpy(ref["phase"]).to(dtype))
    got = np.stack([x.double().numpy() for x in xs])
    assert got.shape == ref[f"x_{steps}"].shape
    # diffusers keeps its sigmas in float32: agreement to ~1e-6 over the whole trajectory
    np.testing.assert_allclose(got, ref[f"x_{steps}"], rtol=0, atol=1e-5)


def test_first_step_is_ddim_eta_zero_and_perfect_x0_is_exact() -> None:
    sched = DiffusionScheduler()
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, 30, 8, generator=g) * 2 - 1
    eps = torch.randn(2, 30, 8, generator=g)
    x = sched.add_noise(x0, eps, 999)
    torch.testing.assert_close(sched.dpmpp_2m_step(x0 * 0.5, 999, 899, x), sched.ddim_step(x0 * 0.5, 999, 899, x,
                                                                                          eta=0.0))
    prev = None
    for t, t_prev in sched.step_pairs(10):  # a constant x̂0 = x0: the solver stays on q(x_t | x0) with the same ε
        x = sched.dpmpp_2m_step(x0, t, t_prev, x, *(prev or (None, None)))
        prev = (x0, t)
        target = x0 if t_prev < 0 else sched.add_noise(x0, eps, t_prev)
        torch.testing.assert_close(x, target, atol=1e-5, rtol=1e-5)


def test_bad_calls() -> None:
    sched = DiffusionScheduler()
    x = torch.zeros(1, 4, 3)
    with pytest.raises(DancegenError, match="t_prev < t"):
        sched.dpmpp_2m_step(x, 100, 100, x)
    with pytest.raises(DancegenError, match="prev_t"):
        sched.dpmpp_2m_step(x, 100, 50, x, prev_x0=x)
    with pytest.raises(DancegenError, match="prev_t > t"):
        sched.dpmpp_2m_step(x, 100, 50, x, prev_x0=x, prev_t=100)
    torch.testing.assert_close(sched.dpmpp_2m_step(x + 0.3, 19, -1, x), x + 0.3)  # the last step returns x̂0


# --------------------------------------------------------------------------- the loop
@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def pipe() -> DancePipeline:
    encoder = build_music_encoder("stft")
    controller = build_genre_controller("label", embedding="onehot")
    torch.manual_seed(0)
    model = GCDanceDenoiser(ModelConfig.preset("tiny", music_dim=encoder.dim, genre_dim=controller.embedding_dim))
    return DancePipeline(model, DiffusionScheduler(), MotionNormalizer(), encoder, controller)


def song(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = round(seconds * SR)
    y = 0.05 * rng.standard_normal(n)
    for beat in range(0, n, SR // 2):
        y[beat:beat + 200] += np.hanning(min(200, n - beat))
    return y.astype(np.float32)


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


@pytest.mark.parametrize("longform", ["blend", "inpaint"])
def test_edit_constraints_hold_with_dpmpp_2m(pipe: DancePipeline, longform: str) -> None:
    reference = pipe(song(8.0, seed=1), SR, genre="Jazz", steps=2, seed=123).motion[0]
    constraints = [Constraint.keep("lower"), Constraint.keyframes([0, 119, 239])]
    res = pipe(song(8.0, seed=1), SR, genre="Jazz", steps=5, seed=5, constraints=constraints, reference=reference,
               window_batch=2, keep_windows=True, sampler="dpmpp_2m", longform=longform)
    mask = constraint_mask(constraints, 240)
    out = res.motion[0]
    assert torch.equal(out[mask], reference[mask])
    assert (out[~mask] - reference[~mask]).abs().mean() > 1e-3
    assert res.window_motions is not None  # the sampler itself reproduces the known entries
    for w, m in zip(res.windows, res.window_motions):
        wm = mask[w.start:w.end]
        assert torch.allclose(m[0][wm], reference[w.start:w.end][wm], atol=1e-4), f"window {w.index}"


def test_batched_clips_equal_one_by_one_with_dpmpp_2m(pipe: DancePipeline) -> None:
    reqs = [ClipRequest(song(4.0, 0), SR, seed=3, genre="Jazz"), ClipRequest(song(2.5, 1), SR, seed=7, genre="Dai")]
    alone = [pipe(r.audio, r.sr, genre=r.genre, steps=4, seed=r.seed, cleanup="none", sampler="dpmpp_2m").motion[0]
             for r in reqs]
    got = generate_clips(pipe, reqs, steps=4, batch_size=2, sampler="dpmpp_2m")
    for g, a in zip(got, alone):
        torch.testing.assert_close(g, a, atol=1e-3, rtol=1e-3)


def test_bad_sampler_is_one_line_error(pipe: DancePipeline) -> None:
    assert SAMPLERS == ("ddim", "dpmpp_2m")
    with pytest.raises(DancegenError, match="--sampler 'euler': expected one of ddim, dpmpp_2m"):
        check_generation_options(prefix="--", sampler="euler")
    with pytest.raises(DancegenError, match="sampler"):
        pipe(song(4.0), SR, genre="Jazz", steps=2, sampler="dpm")
    with pytest.raises(DancegenError, match="sampler"):
        generate_clips(pipe, [], sampler="dpm")


@pytest.mark.parametrize("command", ["generate", "edit", "evaluate"])
def test_cli_rejects_bad_sampler_before_heavy_work(tmp_path: Path, command: str) -> None:
    import subprocess
    import sys

    wav = str(tmp_path / "song.wav")  # never read: the option check comes first
    np.save(tmp_path / "ref.npy", np.zeros((30, 319), np.float32))
    args = {"generate": [wav, "--genre", "Jazz"], "edit": [str(tmp_path / "ref.npy"), wav, "--keep", "body",
                                                             "--genre", "Jazz"],
            "evaluate": ["--data", str(tmp_path), "--checkpoint", str(tmp_path)]}[command]
    proc = subprocess.run([sys.executable, "-m", "dancegen", command, *args, "--sampler", "euler"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].endswith("--sampler 'euler': expected one of ddim, dpmpp_2m")
