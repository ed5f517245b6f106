"""DiffusionScheduler: closed-form schedule, forward process, DDPM/DDIM steps, guidance, inpainting."""

import math

import pytest
import torch

from dancegen.diffusion import DiffusionScheduler
from dancegen.errors import DancegenError


@pytest.fixture
def sched():
    return DiffusionScheduler()


def _f(u, T=1000, s=0.008):
    return math.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2


def test_alphas_cumprod_is_the_cosine_formula(sched):
    ab = sched.alphas_cumprod
    assert ab.shape == (1000,)
    for t in [0, 1, 10, 250, 500, 900, 998]:
        assert ab[t].item() == pytest.approx(_f(t + 1) / _f(0), rel=1e-9, abs=1e-12)
    # betas are clipped at 0.999 (only the last one hits the clip) and alpha-bar decreases strictly
    assert sched.betas.max().item() == pytest.approx(0.999)
    assert (sched.betas[:-1] < 0.999).all()
    assert (ab[1:] < ab[:-1]).all()
    assert ab[-1].item() == pytest.approx(ab[-2].item() * 0.001)


def test_add_noise_matches_definition_and_minus_one_is_clean(sched):
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(3, 5, 7, generator=g)
    eps = torch.randn(3, 5, 7, generator=g)
    t = torch.tensor([0, 500, 999])
    xt = sched.add_noise(x0, eps, t)
    for i in range(3):
        a = sched.alphas_cumprod[t[i]].float()
        torch.testing.assert_close(xt[i], a.sqrt() * x0[i] + (1 - a).sqrt() * eps[i])
    torch.testing.assert_close(sched.add_noise(x0, eps, -1), x0)
    # q_sample with a seeded generator is reproducible
    a = sched.q_sample(x0, 100, generator=torch.Generator().manual_seed(1))
    b = sched.q_sample(x0, 100, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)


def test_perfect_x0_prediction_recovers_x0_through_ddim(sched):
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, 30, 8, generator=g) * 2 - 1
    eps = torch.randn(2, 30, 8, generator=g)
    pairs = sched.step_pairs(50)
    x = sched.add_noise(x0, eps, pairs[0][0])
    for t, t_prev in pairs:
        x_next = sched.ddim_step(x0, t, t_prev, x, eta=0.0)
        if t_prev >= 0:  # eta = 0 keeps the same noise: x stays on q(x_t | x0) with the original eps
            torch.testing.assert_close(x_next, sched.add_noise(x0, eps, t_prev), atol=1e-5, rtol=1e-5)
        x = x_next
    torch.testing.assert_close(x, x0, atol=1e-5, rtol=0)
    # eta = 1 with noise also ends exactly at x0
    x = sched.add_noise(x0, eps, pairs[0][0])
    for t, t_prev in pairs:
        x = sched.ddim_step(x0, t, t_prev, x, eta=1.0, generator=g)
    torch.testing.assert_close(x, x0, atol=1e-5, rtol=0)


def test_ddim_eta_zero_is_deterministic_without_generator(sched):
    x_t = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(3))
    x0 = torch.zeros_like(x_t) + 0.3
    a = sched.ddim_step(x0, 500, 480, x_t, eta=0.0)
    b = sched.ddim_step(x0, 500, 480, x_t, eta=0.0)
    torch.testing.assert_close(a, b)
    with pytest.raises(DancegenError, match="Generator"):
        sched.ddim_step(x0, 500, 480, x_t, eta=1.0)
    with pytest.raises(DancegenError, match="t_prev < t"):
        sched.ddim_step(x0, 480, 500, x_t, eta=0.0)


def test_ddim_eta_one_sigma_equals_posterior_std_for_single_steps(sched):
    # with consecutive timesteps DDIM(eta=1) is DDPM: same mean and variance
    x_t = torch.randn(1, 1, 1).expand(20000, 1, 1).contiguous()
    x0 = torch.full_like(x_t, 0.2)
    g = torch.Generator().manual_seed(0)
    samples = sched.ddim_step(x0, 300, 299, x_t, eta=1.0, generator=g)
    mean, var = sched.posterior_mean_variance(x0, x_t, 300)
    assert samples.mean().item() == pytest.approx(mean[0, 0, 0].item(), abs=4 * var[0, 0, 0].sqrt().item() / 141)
    assert samples.var().item() == pytest.approx(var[0, 0, 0].item(), rel=0.05)


def test_ddpm_step_statistics_match_posterior(sched):
    t = 400
    g = torch.Generator().manual_seed(0)
    x_t = torch.randn(1, 1, 4, generator=g).expand(20000, 1, 4).contiguous()
    x0 = torch.tensor([-0.5, 0.0, 0.5, 0.9]).expand_as(x_t)
    samples = sched.ddpm_step(x0, t, x_t, generator=g)
    b = sched.betas[t].item()
    ab, ab_prev = sched.alphas_cumprod[t].item(), sched.alphas_cumprod[t - 1].item()
    var = b * (1 - ab_prev) / (1 - ab)
    mean = b * math.sqrt(ab_prev) / (1 - ab) * x0[0] + (1 - ab_prev) * math.sqrt(1 - b) / (1 - ab) * x_t[0]
    torch.testing.assert_close(samples.mean(0), mean.float(), atol=4 * math.sqrt(var / 20000), rtol=0)
    torch.testing.assert_close(samples.var(0), torch.full((1, 4), var), rtol=0.05, atol=0)
    # t = 0: the posterior mean, no noise, no generator needed
    out = sched.ddpm_step(x0[:2], 0, x_t[:2])
    torch.testing.assert_close(out, sched.posterior_mean_variance(x0[:2], x_t[:2], 0)[0])


def test_x0_clamping_option():
    x_t = torch.zeros(1, 2, 2)
    x0 = torch.full((1, 2, 2), 5.0)
    on, off = DiffusionScheduler(clip_x0=True), DiffusionScheduler(clip_x0=False)
    torch.testing.assert_close(on.ddim_step(x0, 10, -1, x_t, eta=0.0), torch.ones(1, 2, 2))
    torch.testing.assert_close(off.ddim_step(x0, 10, -1, x_t, eta=0.0), x0)


@pytest.mark.parametrize("n", [1, 7, 50, 1000])
def test_set_timesteps_properties(sched, n):
    ts = sched.set_timesteps(n)
    assert ts.shape == (n,)
    assert ts.dtype == torch.long
    assert ts[0].item() == 999
    assert (ts[1:] < ts[:-1]).all()
    assert ts.min().item() >= 0
    assert torch.equal(sched.timesteps, ts)
    if n == 50:
        assert ts.tolist() == list(range(999, 0, -20))
    if n == 1000:
        assert ts.tolist() == list(range(999, -1, -1))
    pairs = sched.step_pairs(n)
    assert pairs[-1][1] == -1
    assert len(pairs) == n
    with pytest.raises(DancegenError):
        sched.set_timesteps(0)


def test_guidance_formula():
    cond, uncond = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 4.0])
    w = 2.7
    out = DiffusionScheduler.guidance(cond, uncond, w)
    torch.testing.assert_close(out, uncond + w * (cond - uncond))
    torch.testing.assert_close(out, w * cond + (1 - w) * uncond)  # EDGE's way of writing it
    torch.testing.assert_close(DiffusionScheduler.guidance(cond, uncond, 1.0), cond)
    torch.testing.assert_close(DiffusionScheduler.guidance(cond, uncond, 0.0), uncond)


def test_replace_known(sched):
    g = torch.Generator().manual_seed(0)
    x_t = torch.randn(2, 6, 5, generator=g)
    known = torch.rand(2, 6, 5, generator=g)
    mask = torch.zeros(2, 6, 5, dtype=torch.bool)
    mask[:, :3] = True
    noise = torch.randn(2, 6, 5, generator=g)
    out = sched.replace_known(x_t, known, mask, 200, noise=noise)
    torch.testing.assert_close(out[:, 3:], x_t[:, 3:])
    torch.testing.assert_close(out[:, :3], sched.add_noise(known, noise, 200)[:, :3])
    clean = sched.replace_known(x_t, known, mask, -1)
    torch.testing.assert_close(clean[:, :3], known[:, :3])
    with pytest.raises(DancegenError, match="Generator"):
        sched.replace_known(x_t, known, mask, 200)


def test_bad_inputs(sched):
    x = torch.zeros(2, 3, 4)
    with pytest.raises(DancegenError, match="out of range"):
        sched.add_noise(x, x, 1000)
    with pytest.raises(DancegenError, match="shape"):
        sched.add_noise(x, torch.zeros(2, 3, 5), 3)
    with pytest.raises(DancegenError):
        sched.add_noise(x, x, torch.tensor([1, 2, 3]))
    with pytest.raises(DancegenError):
        DiffusionScheduler(num_train_timesteps=0)


def test_per_sample_timesteps_match_scalar_calls(sched):
    g = torch.Generator().manual_seed(0)
    x_t, x0 = torch.randn(2, 3, 4, generator=g), torch.rand(2, 3, 4, generator=g)
    noise = torch.randn(2, 3, 4, generator=g)
    t, t_prev = torch.tensor([700, 40]), torch.tensor([650, -1])
    out = sched.ddim_step(x0, t, t_prev, x_t, eta=1.0, noise=noise)
    for i in range(2):
        one = sched.ddim_step(x0[i:i + 1], int(t[i]), int(t_prev[i]), x_t[i:i + 1], eta=1.0, noise=noise[i:i + 1])
        torch.testing.assert_close(out[i:i + 1], one)
    torch.testing.assert_close(out[1], x0[1])  # t_prev = -1 lands on x0
