"""The diffusion scheduler: cosine noise schedule, forward noising and DDPM / DDIM reverse steps (x0 prediction).

A pure-tensor object in the diffusers style: it holds no network. The sampling loop composes it with a denoiser::

    scheduler = DiffusionScheduler()
    x = torch.randn(shape, generator=g)
    timesteps = scheduler.set_timesteps(50)                       # 999, 979, ..., 19
    for t, t_prev in zip(timesteps.tolist(), [*timesteps[1:].tolist(), -1]):
        x0 = denoiser.guided_forward(x, torch.full((B,), t), music, genre, 2.7)
        x = scheduler.ddim_step(x0, t, t_prev, x, eta=1.0, generator=g)

Conventions (as in EDGE / GCDance): timestep indices run 0 … T−1; index t has ᾱ_t = f(t + 1) / f(0) with
f(u) = cos²(((u / T) + s) / (1 + s) · π/2) (Nichol & Dhariwal 2021), betas β_t = 1 − ᾱ_t / ᾱ_{t−1} clipped at 0.999.
``t = -1`` means "clean data" (ᾱ = 1). Random draws only come from an explicit ``torch.Generator``, a noise source
(a function returning noise shaped like its argument, e.g. :class:`dancegen.sampling.Noise`) or explicit noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .errors import DancegenError

TimeLike = int | Tensor
#: Where a step's random draws come from: a torch.Generator, or a function giving noise shaped like its argument.
NoiseSource = torch.Generator | Callable[[Tensor], Tensor]
#: UniPC's B(h) choices (:meth:`DiffusionScheduler.unipc_step`).
UNIPC_VARIANTS = ("bh1", "bh2")


@dataclass
class UniPCState:
    """The memory of one UniPC sampling run (:meth:`DiffusionScheduler.unipc_step`); make a fresh one per run.

    ``num_steps``: the run's step count (the last steps lower their order: diffusers' ``lower_order_final``);
    ``order``: the predictor's order p (UniP-p, corrected by UniC-p to order p + 1; 2 by default, 1–3 checked
    against diffusers); ``variant``: B(h) = e^{−h} − 1 (``bh2``, diffusers' default) or −h (``bh1``);
    ``corrector``: False leaves only the predictor (with ``order=2`` and ``bh2`` that is DPM-Solver++(2M)).
    The rest is filled in by the steps.
    """

    num_steps: int
    order: int = 2
    variant: str = "bh2"
    corrector: bool = True
    #: steps taken so far
    steps_done: int = 0
    #: the x̂0 the past steps continued from (clipped), newest last, at most ``order`` of them, and their timesteps
    x0s: list[Tensor] = field(default_factory=list)
    ts: list[TimeLike] = field(default_factory=list)
    #: the (corrected) sample the last predictor started from, where it went and its order
    x_from: Tensor | None = None
    t_to: TimeLike | None = None
    order_used: int = 0

    def __post_init__(self) -> None:
        if self.num_steps < 1:
            raise DancegenError(f"UniPC num_steps must be >= 1, got {self.num_steps}")
        if not 1 <= self.order <= 3:
            raise DancegenError(f"UniPC order must be 1, 2 or 3, got {self.order}")
        if self.variant not in UNIPC_VARIANTS:
            raise DancegenError(f"UniPC variant {self.variant!r}: expected one of {', '.join(UNIPC_VARIANTS)}")


class DiffusionScheduler:
    """Cosine-schedule Gaussian diffusion with x0 prediction.

    Args:
        num_train_timesteps: T (1000 in the paper).
        s: the cosine-schedule offset (0.008).
        max_beta: betas are clipped at this value (0.999).
        clip_x0: clamp predicted x̂0 to [−1, 1] inside the reverse steps (the paper does; the data must be
            min-max normalised to [−1, 1] for this to make sense).
    """

    def __init__(self, num_train_timesteps: int = 1000, s: float = 0.008, max_beta: float = 0.999,
                 clip_x0: bool = True) -> None:
        if num_train_timesteps < 1:
            raise DancegenError(f"num_train_timesteps must be >= 1, got {num_train_timesteps}")
        if not 0.0 < max_beta < 1.0:
            raise DancegenError(f"max_beta must lie in (0, 1), got {max_beta}")
        self.num_train_timesteps = int(num_train_timesteps)
        self.s = float(s)
        self.max_beta = float(max_beta)
        self.clip_x0 = bool(clip_x0)
        steps = torch.arange(self.num_train_timesteps + 1, dtype=torch.float64) / self.num_train_timesteps
        f = torch.cos((steps + self.s) / (1 + self.s) * math.pi / 2) ** 2
        f = f / f[0]
        #: β_t (float64, length T).
        self.betas: Tensor = (1 - f[1:] / f[:-1]).clamp(max=self.max_beta)
        #: α_t = 1 − β_t.
        self.alphas: Tensor = 1.0 - self.betas
        #: ᾱ_t = ∏_{i ≤ t} α_i.
        self.alphas_cumprod: Tensor = torch.cumprod(self.alphas, dim=0)
        #: ᾱ_{t−1} with ᾱ_{−1} = 1.
        self.alphas_cumprod_prev: Tensor = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]])
        #: Posterior variance of q(x_{t−1} | x_t, x0): β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t).
        self.posterior_variance: Tensor = self.betas * (1 - self.alphas_cumprod_prev) / (1 - self.alphas_cumprod)
        self.posterior_mean_coef1: Tensor = self.betas * self.alphas_cumprod_prev.sqrt() / (1 - self.alphas_cumprod)
        self.posterior_mean_coef2: Tensor = (
            (1 - self.alphas_cumprod_prev) * self.alphas.sqrt() / (1 - self.alphas_cumprod))
        #: The reverse-step timesteps chosen by :meth:`set_timesteps` (descending); all T by default.
        self.timesteps: Tensor = torch.arange(self.num_train_timesteps - 1, -1, -1)

    # ------------------------------------------------------------------ helpers
    def _index(self, t: TimeLike, x: Tensor, *, allow_minus_one: bool = False) -> Tensor:
        """t (int or (B,) tensor) → a long tensor on ``x.device`` shaped to broadcast against x."""
        tt = torch.as_tensor(t, dtype=torch.long, device=x.device)
        low = -1 if allow_minus_one else 0
        if tt.numel() and (int(tt.min()) < low or int(tt.max()) >= self.num_train_timesteps):
            raise DancegenError(f"timestep out of range [{low}, {self.num_train_timesteps - 1}]: {t}")
        if tt.ndim == 0:
            return tt
        if tt.ndim != 1 or tt.shape[0] != x.shape[0]:
            raise DancegenError(f"timesteps must be an int or a ({x.shape[0]},) tensor, got shape {tuple(tt.shape)}")
        return tt.view(-1, *([1] * (x.ndim - 1)))

    def _gather(self, table: Tensor, t: Tensor, x: Tensor) -> Tensor:
        return table.to(x.device)[t].to(x.dtype)

    def alpha_bar(self, t: TimeLike, like: Tensor) -> Tensor:
        """ᾱ_t broadcastable against ``like``; ᾱ_{−1} = 1 (clean data)."""
        idx = self._index(t, like, allow_minus_one=True)
        table = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod])
        return self._gather(table, idx + 1, like)

    @staticmethod
    def _randn(like: Tensor, generator: NoiseSource | None, what: str) -> Tensor:
        if generator is None:
            raise DancegenError(f"{what} draws noise: pass a torch.Generator (or explicit noise)")
        if isinstance(generator, torch.Generator):
            return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)
        return generator(like)

    def maybe_clip(self, x0_pred: Tensor) -> Tensor:
        """x̂0 clamped to [−1, 1] when ``clip_x0`` is on."""
        return x0_pred.clamp(-1.0, 1.0) if self.clip_x0 else x0_pred

    # ------------------------------------------------------------------ forward process
    def add_noise(self, x0: Tensor, noise: Tensor, t: TimeLike) -> Tensor:
        """x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · ε (t = −1 returns x0)."""
        if noise.shape != x0.shape:
            raise DancegenError(f"noise shape {tuple(noise.shape)} differs from x0 shape {tuple(x0.shape)}")
        a = self.alpha_bar(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def q_sample(self, x0: Tensor, t: TimeLike, generator: NoiseSource | None = None,
                 noise: Tensor | None = None) -> Tensor:
        """A draw from q(x_t | x0), noise from ``generator`` unless given."""
        if noise is None:
            noise = self._randn(x0, generator, "q_sample")
        return self.add_noise(x0, noise, t)

    def sample_timesteps(self, batch_size: int, generator: torch.Generator | None = None,
                         device: torch.device | str = "cpu") -> Tensor:
        """Uniform training timesteps in [0, T)."""
        return torch.randint(0, self.num_train_timesteps, (batch_size,), generator=generator, device=device)

    def predict_noise(self, x0_pred: Tensor, t: TimeLike, x_t: Tensor) -> Tensor:
        """ε̂ = (x_t − √ᾱ_t · x̂0) / √(1 − ᾱ_t)."""
        a = self.alpha_bar(t, x_t)
        return (x_t - a.sqrt() * x0_pred) / (1 - a).sqrt()

    # ------------------------------------------------------------------ reverse process
    def posterior_mean_variance(self, x0: Tensor, x_t: Tensor, t: TimeLike) -> tuple[Tensor, Tensor]:
        """Mean and variance of q(x_{t−1} | x_t, x0) (DDPM eq. 6–7)."""
        idx = self._index(t, x_t)
        mean = self._gather(self.posterior_mean_coef1, idx, x_t) * x0 + self._gather(
            self.posterior_mean_coef2, idx, x_t) * x_t
        var = self._gather(self.posterior_variance, idx, x_t).expand_as(x_t)
        return mean, var

    def ddpm_step(self, x0_pred: Tensor, t: TimeLike, x_t: Tensor, generator: NoiseSource | None = None,
                  noise: Tensor | None = None) -> Tensor:
        """One ancestral step x_t → x_{t−1} ~ q(x_{t−1} | x_t, x̂0); no noise is added at t = 0."""
        x0_pred = self.maybe_clip(x0_pred)
        mean, var = self.posterior_mean_variance(x0_pred, x_t, t)
        idx = self._index(t, x_t)
        nonzero = (idx > 0).to(x_t.dtype)
        if not bool(nonzero.any()):
            return mean
        if noise is None:
            noise = self._randn(x_t, generator, "ddpm_step")
        return mean + nonzero * var.clamp(min=1e-20).sqrt() * noise

    def ddim_step(self, x0_pred: Tensor, t: TimeLike, t_prev: TimeLike, x_t: Tensor, eta: float = 1.0,
                  generator: NoiseSource | None = None, noise: Tensor | None = None) -> Tensor:
        """One DDIM step x_t → x_{t_prev} (Song et al. 2021, eq. 12); ``t_prev = -1`` returns x̂0.

        σ = η · √((1 − ᾱ_prev) / (1 − ᾱ_t) · (1 − ᾱ_t / ᾱ_prev)),
        x_prev = √ᾱ_prev · x̂0 + √(1 − ᾱ_prev − σ²) · ε̂ + σ · z. η = 0 is deterministic; η = 1 (the paper) is
        ancestral sampling on the sub-sequence.
        """
        if eta < 0:
            raise DancegenError(f"eta must be >= 0, got {eta}")
        x0_pred = self.maybe_clip(x0_pred)
        if bool((torch.as_tensor(t_prev) >= torch.as_tensor(t)).any()):
            raise DancegenError(f"ddim_step needs t_prev < t, got t={t}, t_prev={t_prev}")
        a_t = self.alpha_bar(t, x_t)
        a_prev = self.alpha_bar(t_prev, x_t)
        eps = self.predict_noise(x0_pred, t, x_t)
        sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).clamp(min=0).sqrt()
        out = a_prev.sqrt() * x0_pred + (1 - a_prev - sigma**2).clamp(min=0).sqrt() * eps
        if eta == 0 or not bool((sigma > 0).any()):
            return out
        if noise is None:
            noise = self._randn(x_t, generator, "ddim_step with eta > 0")
        return out + sigma * noise

    def log_snr(self, t: TimeLike, like: Tensor) -> Tensor:
        """λ_t = log(α_t / σ_t) = ½ log(ᾱ_t / (1 − ᾱ_t)) in float64, broadcastable against ``like`` (t ≥ 0)."""
        a = self._alpha_bar64(t, like)
        return 0.5 * (a.log() - (1 - a).log())

    def _alpha_bar64(self, t: TimeLike, like: Tensor) -> Tensor:
        """ᾱ_t as float64 on ``like``'s device (the coefficients of multistep solvers lose digits in float32);
        computed on the CPU when the device has no float64."""
        idx = self._index(t, like).cpu()
        a = self.alphas_cumprod[idx]
        return a.to(like.device) if like.device.type in ("cpu", "cuda") else a.float().to(like.device)

    def dpmpp_2m_step(self, x0_pred: Tensor, t: TimeLike, t_prev: TimeLike, x_t: Tensor,
                      prev_x0: Tensor | None = None, prev_t: TimeLike | None = None) -> Tensor:
        """One deterministic DPM-Solver++(2M) step x_t → x_{t_prev} (Lu et al. 2022, "DPM-Solver++: Fast Solver for
        Guided Sampling of Diffusion Probabilistic Models", Algorithm 2, the multistep second-order data-prediction
        solver of the diffusion ODE).

        With α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t), λ_t = log(α_t / σ_t), h = λ_{t_prev} − λ_t and, when the previous step's
        x̂0 (``prev_x0``, predicted at ``prev_t``) is given, r = (λ_t − λ_{prev_t}) / h::

            D      = (1 + 1/(2r)) · x̂0 − 1/(2r) · prev_x0          (first order: D = x̂0)
            x_prev = (σ_prev / σ_t) · x_t − α_prev · (e^{−h} − 1) · D  (Algorithm 2, line 8 / eq. 5 of the paper)

        Without ``prev_x0`` (the first step) it is the first-order solver, which is DDIM with η = 0. The step to
        clean data (``t_prev = -1``: σ = 0, λ = ∞) is first order and returns x̂0, as ``diffusers``'
        ``DPMSolverMultistepScheduler`` does with ``final_sigmas_type="zero"``. x̂0 (and ``prev_x0``, which should
        be the x̂0 the previous step actually used) is clamped when ``clip_x0`` is on. The loop keeps the history::

            prev = None
            for t, t_prev in scheduler.step_pairs(10):
                x0 = model(x, t)
                x = scheduler.dpmpp_2m_step(x0, t, t_prev, x, *(prev or (None, None)))
                prev = (x0, t)
        """
        x0_pred = self.maybe_clip(x0_pred)
        if bool((torch.as_tensor(t_prev) >= torch.as_tensor(t)).any()):
            raise DancegenError(f"dpmpp_2m_step needs t_prev < t, got t={t}, t_prev={t_prev}")
        idx_prev = self._index(t_prev, x_t, allow_minus_one=True)
        if bool((idx_prev < 0).all()):
            return x0_pred
        if bool((idx_prev < 0).any()):
            raise DancegenError("dpmpp_2m_step: t_prev = -1 for some samples only is not supported")
        lam_t, lam_prev = self.log_snr(t, x_t), self.log_snr(t_prev, x_t)
        h = lam_prev - lam_t
        a_t, a_prev = self._alpha_bar64(t, x_t), self._alpha_bar64(t_prev, x_t)
        ratio = ((1 - a_prev) / (1 - a_t)).sqrt()
        coef = -a_prev.sqrt() * torch.expm1(-h)
        if prev_x0 is None:
            d = x0_pred
        else:
            if prev_t is None:
                raise DancegenError("dpmpp_2m_step: prev_x0 needs prev_t, the timestep it was predicted at")
            if bool((torch.as_tensor(prev_t) <= torch.as_tensor(t)).any()):
                raise DancegenError(f"dpmpp_2m_step needs prev_t > t, got prev_t={prev_t}, t={t}")
            r = (lam_t - self.log_snr(prev_t, x_t)) / h
            half = (0.5 / r).to(x_t.dtype)
            d = (1 + half) * x0_pred - half * self.maybe_clip(prev_x0)
        return ratio.to(x_t.dtype) * x_t + coef.to(x_t.dtype) * d

    def dpmpp_2m_sde_step(self, x0_pred: Tensor, t: TimeLike, t_prev: TimeLike, x_t: Tensor,
                          prev_x0: Tensor | None = None, prev_t: TimeLike | None = None,
                          generator: NoiseSource | None = None, noise: Tensor | None = None) -> Tensor:
        """One stochastic DPM-Solver++(2M) step x_t → x_{t_prev}: the second-order multistep solver of the diffusion
        SDE in data prediction (Lu et al. 2022, DPM-Solver++ §4 / its SDE variant as in ``diffusers``'
        ``algorithm_type="sde-dpmsolver++"``, midpoint form). Like DDIM with η = 1 it injects fresh noise at every
        step, which keeps the sample on the data manifold with few steps.

        With λ, h, r as in :meth:`dpmpp_2m_step` and z ~ N(0, I) (``noise``, else drawn from ``generator``)::

            D      = x̂0 + 1/(2r) · (x̂0 − prev_x0)                               (first order: D = x̂0)
            x_prev = (σ_prev/σ_t) e^{−h} x_t + α_prev (1 − e^{−2h}) D + σ_prev √(1 − e^{−2h}) z

        The step to clean data (``t_prev = -1``) returns x̂0; the first step (no ``prev_x0``) is first order.
        """
        x0_pred = self.maybe_clip(x0_pred)
        if bool((torch.as_tensor(t_prev) >= torch.as_tensor(t)).any()):
            raise DancegenError(f"dpmpp_2m_sde_step needs t_prev < t, got t={t}, t_prev={t_prev}")
        idx_prev = self._index(t_prev, x_t, allow_minus_one=True)
        if bool((idx_prev < 0).all()):
            return x0_pred
        if bool((idx_prev < 0).any()):
            raise DancegenError("dpmpp_2m_sde_step: t_prev = -1 for some samples only is not supported")
        h = self.log_snr(t_prev, x_t) - self.log_snr(t, x_t)
        a_t, a_prev = self._alpha_bar64(t, x_t), self._alpha_bar64(t_prev, x_t)
        sigma_prev = (1 - a_prev).sqrt()
        keep = sigma_prev / (1 - a_t).sqrt() * torch.exp(-h)
        one_minus = -torch.expm1(-2 * h)  # 1 − e^{−2h}
        d = x0_pred
        if prev_x0 is not None:
            if prev_t is None:
                raise DancegenError("dpmpp_2m_sde_step: prev_x0 needs prev_t, the timestep it was predicted at")
            if bool((torch.as_tensor(prev_t) <= torch.as_tensor(t)).any()):
                raise DancegenError(f"dpmpp_2m_sde_step needs prev_t > t, got prev_t={prev_t}, t={t}")
            r = (self.log_snr(t, x_t) - self.log_snr(prev_t, x_t)) / h
            d = x0_pred + (0.5 / r).to(x_t.dtype) * (x0_pred - self.maybe_clip(prev_x0))
        if noise is None:
            noise = self._randn(x_t, generator, "dpmpp_2m_sde_step")
        return (keep.to(x_t.dtype) * x_t + (a_prev.sqrt() * one_minus).to(x_t.dtype) * d
                + (sigma_prev * one_minus.sqrt()).to(x_t.dtype) * noise)

    def unipc_step(self, x0_pred: Tensor, t: TimeLike, t_prev: TimeLike, x_t: Tensor, state: UniPCState,
                   keep: Tensor | None = None) -> Tensor:
        """One UniPC step (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework for Fast Sampling of
        Diffusion Models"): correct x_t with the x̂0 just predicted there (UniC), then predict x_{t_prev} (UniP).
        Data prediction, multistep, B(h) variant ``state.variant``; the same algorithm as ``diffusers``'
        ``UniPCMultistepScheduler(prediction_type="sample", predict_x0=True)``.

        Both halves are one formula. From a sample x_s at s with x̂0 history m_0 (at s), m_1, m_2, … (at the earlier
        timesteps s_1, s_2, …) to t, with λ as in :meth:`log_snr`, h = λ_t − λ_s and r_k = (λ_{s_k} − λ_s) / h::

            x_t = (σ_t/σ_s)·x_s − α_t(e^{−h} − 1)·m_0 − α_t·B(h)·Σ_k c_k·(m_k − m_0)/r_k

        The predictor of order p sums k = 1 … p−1 with c = ½ for p = 2, otherwise c solves the (p−1)×(p−1) system
        Σ_k c_k r_k^{j−1} = b_j (j = 1 … p−1). The corrector (order p of the predictor that made x_t) re-runs the
        previous step from x_s with one more term: k = p with r_p = 1 and m_p = x̂0 at t (the new prediction); its
        c solves the p×p system over r_1 … r_{p−1}, 1 (c = ½ for p = 1). With u = −h:
        b_j = j!·g_j / B(h), g_1 = (e^u − 1)/u − 1, g_{j+1} = g_j/u − 1/(j+1)!. The corrected x_t replaces the one
        the model saw (which is only used to predict x̂0: no extra evaluation).

        The order is min(``state.order``, steps taken + 1, steps left) (warm-up, and lower order at the end as
        diffusers' ``lower_order_final``); the step to clean data (``t_prev = -1``) returns x̂0.

        ``keep`` (a mask broadcastable to x_t): entries whose x_t is kept as given instead of being corrected — the
        known entries a sampling loop pasted in after the previous step (replacement inpainting), so that they stay
        draws of q(known, t). ``state`` must be fresh at the run's first step and is updated in place. x̂0 is
        clamped when ``clip_x0`` is on. Coefficients are computed in float64.
        """
        x0_pred = self.maybe_clip(x0_pred)
        if bool((torch.as_tensor(t_prev) >= torch.as_tensor(t)).any()):
            raise DancegenError(f"unipc_step needs t_prev < t, got t={t}, t_prev={t_prev}")
        if state.steps_done >= state.num_steps:
            raise DancegenError(f"unipc_step: the state's {state.num_steps} steps are done; start a new UniPCState")
        if state.x_from is not None:
            if not bool((torch.as_tensor(state.t_to) == torch.as_tensor(t)).all()):
                raise DancegenError(f"unipc_step: the previous step went to t={state.t_to}, this one starts at t={t}")
            if state.corrector:
                corrected = self._unipc_update(state.x_from, state.ts[-1], t, state.x0s, state.ts,
                                               state.order_used, state.variant, new_x0=x0_pred)
                x_t = corrected if keep is None else torch.where(keep.to(x_t.device, torch.bool), x_t, corrected)
        state.x0s = [*state.x0s, x0_pred][-state.order:]
        state.ts = [*state.ts, t][-state.order:]
        order = min(state.order, len(state.x0s), state.num_steps - state.steps_done)
        state.x_from, state.t_to, state.order_used = x_t, t_prev, order
        state.steps_done += 1
        idx_prev = self._index(t_prev, x_t, allow_minus_one=True)
        if bool((idx_prev < 0).all()):
            return x0_pred
        if bool((idx_prev < 0).any()):
            raise DancegenError("unipc_step: t_prev = -1 for some samples only is not supported")
        return self._unipc_update(x_t, t, t_prev, state.x0s, state.ts, order, state.variant)

    def _unipc_update(self, x_s: Tensor, s: TimeLike, t: TimeLike, x0s: list[Tensor], ts: list[TimeLike],
                      order: int, variant: str, new_x0: Tensor | None = None) -> Tensor:
        """x_s → x_t with the history ``x0s`` (newest last, at ``ts``; the newest is at s): UniP of ``order``, or
        UniC of ``order`` when ``new_x0`` (x̂0 at t) is given. See :meth:`unipc_step`."""
        lam_s, lam_t = self.log_snr(s, x_s), self.log_snr(t, x_s)
        h = lam_t - lam_s
        u = -h
        a_s, a_t = self._alpha_bar64(s, x_s), self._alpha_bar64(t, x_s)
        expm1 = torch.expm1(u)
        big_b = expm1 if variant == "bh2" else u
        m0 = x0s[-1]
        # r_k for the older predictions k = 1 … order−1, then (corrector) r = 1 for the new one
        rs = [(self.log_snr(ts[-1 - k], x_s) - lam_s) / h for k in range(1, order)]
        diffs = [x0s[-1 - k] - m0 for k in range(1, order)]
        if new_x0 is not None:
            rs.append(torch.ones_like(h))
            diffs.append(new_x0 - m0)
        n = len(rs)  # predictor: order − 1 terms; corrector: order terms
        coefs: list[Tensor] = []
        if n == 1:  # UniP-2 and UniC-1 take c = ½ (as diffusers; for UniP-2 with bh2 this is DPM-Solver++(2M))
            coefs = [torch.full_like(h, 0.5)]
        elif n > 1:
            g = expm1 / u - 1
            fact = 1.0
            bs = []
            for j in range(1, n + 1):
                bs.append(g * fact / big_b)
                fact *= j + 1
                g = g / u - 1 / fact
            mat = torch.stack([torch.stack([r ** (j - 1) for r in rs], dim=-1) for j in range(1, n + 1)], dim=-2)
            sol = torch.linalg.solve(mat, torch.stack(bs, dim=-1).unsqueeze(-1)).squeeze(-1)
            coefs = list(sol.unbind(-1))
        out = (((1 - a_t) / (1 - a_s)).sqrt().to(x_s.dtype) * x_s
               - (a_t.sqrt() * expm1).to(x_s.dtype) * m0)
        for c, r, d in zip(coefs, rs, diffs):
            out = out - (a_t.sqrt() * big_b * c / r).to(x_s.dtype) * d
        return out

    def set_timesteps(self, num_inference_steps: int) -> Tensor:
        """The N-step sub-sequence, descending, evenly spaced and ending one step above clean data.

        For T = 1000, N = 50: 999, 979, …, 19 ("trailing" spacing, identical to EDGE's
        ``linspace(-1, T-1, N+1)``); the step after the last goes to t_prev = −1 (x̂0). Stored in ``timesteps``.
        """
        n = int(num_inference_steps)
        if not 1 <= n <= self.num_train_timesteps:
            raise DancegenError(f"num_inference_steps must be in [1, {self.num_train_timesteps}], got {n}")
        ratio = self.num_train_timesteps / n
        self.timesteps = (torch.arange(n, 0, -1, dtype=torch.float64) * ratio).round().long() - 1
        return self.timesteps

    def step_pairs(self, num_inference_steps: int) -> list[tuple[int, int]]:
        """(t, t_prev) pairs for a sampling loop, the last pair going to −1."""
        ts = self.set_timesteps(num_inference_steps).tolist()
        return list(zip(ts, [*ts[1:], -1]))

    # ------------------------------------------------------------------ guidance and inpainting
    @staticmethod
    def guidance(cond_x0: Tensor, uncond_x0: Tensor, weight: float) -> Tensor:
        """Classifier-free guidance: uncond + w · (cond − uncond).

        Identical to EDGE's ``weight * cond + (1 - weight) * uncond``; w = 1 is the conditional prediction,
        w = 0 the unconditional one, the paper samples with w = 2.7.
        """
        return uncond_x0 + weight * (cond_x0 - uncond_x0)

    def replace_known(self, x_t: Tensor, known_x0: Tensor, mask: Tensor, t_prev: TimeLike,
                      noise: Tensor | None = None, generator: NoiseSource | None = None) -> Tensor:
        """Inpainting (paper eq. 15): entries where ``mask`` is true become a draw of q(known, t_prev).

        Call after each reverse step with the step's ``t_prev``; at ``t_prev = -1`` the known values are
        pasted in clean. ``mask`` broadcasts against ``x_t`` (e.g. (B, T, 319) bool in 319-space).
        """
        if known_x0.shape != x_t.shape:
            raise DancegenError(f"known motion shape {tuple(known_x0.shape)} differs from x_t {tuple(x_t.shape)}")
        m = mask.to(device=x_t.device, dtype=torch.bool)
        tt = torch.as_tensor(t_prev)
        if bool((tt < 0).all()):
            known_t = known_x0
        else:
            if noise is None:
                noise = self._randn(x_t, generator, "replace_known")
            known_t = self.add_noise(known_x0, noise, t_prev)
        return torch.where(m, known_t, x_t)

    def __repr__(self) -> str:
        return (f"DiffusionScheduler(num_train_timesteps={self.num_train_timesteps}, s={self.s}, "
                f"max_beta={self.max_beta}, clip_x0={self.clip_x0})")
