"""``TrainConfig``: every setting of a GCDance training run, loadable from TOML with CLI flags on top.

Named recipes (``dancegen train --recipe paper|edge|fast``, or ``recipe = "paper"`` in a TOML file) are TOML files
shipped in ``dancegen/train/recipes/``: a set of settings below the TOML file and the command-line flags
(precedence: built-in defaults < recipe < ``--config`` file < flags). Each recipe lists in comments what it does
not reproduce and why (docs/dancegen/training.md has the table).

A TOML file uses the field names below at the top level (tables for the option dicts)::

    data = "data/finedance"
    out = "runs/nash"
    aggregator = "nash"
    music_encoders = "wav2clip,stft"
    steps = 20000
    [aggregator_options]
    update_every = 1
    [model]          # overrides of the preset
    dropout = 0.1
"""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..errors import DancegenError
from ..losses import EDGE_WEIGHTS, TASKS
from ..precision import PRECISIONS

#: The recipes shipped in ``dancegen/train/recipes/`` (``--recipe NAME``).
RECIPES = ("paper", "edge", "fast")
#: dancegen's default floor on Nash-MTL's gradient norms (``min_norm_ratio``), applied when the aggregator options
#: do not name one: a task whose gradient norm is below 1 % of the largest is raised to it, so its weight is at most
#: ``1/(0.01·max_j ‖g_j‖)`` (≈ 100× the weight of a unit-share task with the largest gradient) instead of
#: ``~1/‖g_i‖`` (10⁴–10⁵ when L_F ≈ 0). 0.01, not 0.05: in the reference run's logged Gramians
#: (dancegen/assets/default_model/metrics.jsonl) a 0.05 floor touched L_V at 92 % of the steps (its gradient is
#: typically 3 % of the largest), 0.01 at 4 %. mtlkit's own default (1e-3, the paper's method) is unchanged.
NASH_MIN_NORM_RATIO = 0.01

#: Which parameters the aggregator balances (see docs/dancegen/training.md).
SHARED_CHOICES = ("all", "trunk", "representation")
BACKENDS = ("auto", "jacobian", "gramian", "representation")
LR_SCHEDULES = ("cosine", "constant")


@dataclass
class TrainConfig:
    """Settings of one training run (defaults: the paper's optimiser settings, the ``small`` model preset).

    ``shared`` chooses what the multi-task aggregator sees:

    * ``"all"`` (default, the issue's choice): every trainable parameter — the denoiser plus the genre
      controller's trainable parts, including the text classifier head when L_C is on — in parameter space.
    * ``"trunk"``: only the denoiser is aggregated, over the motion tasks (S, J, V, F); the classifier head, which
      only L_C reaches, is trained by the plain gradient of L_C.
    * ``"representation"``: mtlkit's representation backend on the networks' outputs — the denoiser's x̂0
      (every motion loss is a function of it) and the classifier's genre logits (L_C); the weights come from
      the K×K Gramian of gradients w.r.t. those activations and one backward of Σ w_i L_i updates everything.
    """

    data: str = ""
    out: str = ""
    split: str = "train"
    protocol: str = "cross_genre"
    cache_dir: str | None = None
    skeleton: str = "default"
    music_encoders: str = "wav2clip,stft"
    encoder_options: dict[str, Any] = field(default_factory=dict)
    allow_random_weights: bool = False
    genre_controller: str = "text"
    controller_options: dict[str, Any] = field(default_factory=dict)
    preset: str = "small"
    model: dict[str, Any] = field(default_factory=dict)
    normalizer: str = "minmax"
    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    aggregator: str = "nash"
    aggregator_options: dict[str, Any] = field(default_factory=dict)
    backend: str = "auto"
    shared: str = "all"
    steps: int = 1000
    batch_size: int = 32
    lr: float = 2e-4
    weight_decay: float = 0.02
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    ema_decay: float = 0.9999
    ema_start: int = 0
    ema_warmup: bool = True
    grad_clip: float = 1.0
    lr_schedule: str = "cosine"
    warmup: int = 0
    min_lr_ratio: float = 0.0
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    compile: bool = False
    data_workers: int = 0
    prefetch: int = 2
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    log_every: int = 10
    tensorboard: bool = True
    progress: bool = True
    debug_replica_hash: bool = False
    recipe: str = ""

    # -- construction ------------------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> TrainConfig:
        """Build from a plain dict; unknown keys are an error naming close matches. A ``recipe`` key applies that
        recipe's settings below the others (:func:`with_recipe`)."""
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=2)
                hint = f" (did you mean {' or '.join(close)}?)" if close else ""
                raise DancegenError(f"{where}: unknown training setting {key!r}{hint}")
        data = with_recipe(data)
        return cls(**{k: _copy(v) for k, v in data.items()})

    @classmethod
    def from_recipe(cls, name: str, **overrides: Any) -> TrainConfig:
        """A shipped recipe's settings (``paper``, ``edge``, ``fast``) with ``overrides`` on top."""
        return cls.from_dict({**overrides, "recipe": name}, where=f"recipe {name!r}")

    @classmethod
    def from_toml(cls, path: str | Path) -> TrainConfig:
        """Read a TOML file of training settings."""
        return cls.from_dict(read_toml(path), where=str(path))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (stored in every checkpoint)."""
        return asdict(self)

    def updated(self, **overrides: Any) -> TrainConfig:
        """A copy with the given (non-None) fields replaced."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **given) if given else replace(self)

    # -- derived settings --------------------------------------------------------------------------------------

    @property
    def uses_classifier(self) -> bool:
        return "C" in self.tasks

    @property
    def aggregated_tasks(self) -> list[str]:
        """The tasks the aggregator balances: all, except L_C with ``shared="trunk"`` (its head is trained by its
        own plain gradient there, since L_C does not reach the trunk)."""
        if self.shared == "trunk":
            return [t for t in self.tasks if t != "C"]
        return list(self.tasks)

    def aggregator_kwargs(self) -> dict[str, Any]:
        """Options for ``mtlkit.get_aggregator``: ``linear`` without weights gets EDGE's fixed weights (C: 1.0);
        ``nash`` without ``min_norm_ratio`` gets dancegen's bounded default :data:`NASH_MIN_NORM_RATIO`. Stored in
        every checkpoint (``aggregator.options``)."""
        opts = dict(self.aggregator_options)
        if self.aggregator == "linear" and "weights" not in opts:
            opts["weights"] = [EDGE_WEIGHTS.get(t, 1.0) for t in self.aggregated_tasks]
        if self.aggregator == "nash" and "min_norm_ratio" not in opts:
            opts["min_norm_ratio"] = NASH_MIN_NORM_RATIO
        return opts

    def ema_decay_at(self, step: int) -> float:
        """The EMA decay applied after (0-based) ``step``: 0 (a copy) before ``ema_start``; then, with ``ema_warmup``,
        ``min(ema_decay, (1 + n) / (10 + n))`` for the n-th EMA update — the warm-up of TensorFlow's
        ``ExponentialMovingAverage(num_updates=…)`` and of diffusers' ``EMAModel`` (``use_ema_warmup=False``) — so
        that a short run's EMA averages its recent weights instead of staying at the initial ones (0.9999 per step
        keeps 99.5 % of the initial weights after 50 steps); without it, ``ema_decay`` (the published code)."""
        if step < self.ema_start:
            return 0.0
        if not self.ema_warmup:
            return self.ema_decay
        n = step - self.ema_start
        return min(self.ema_decay, (1 + n) / (10 + n))

    def validate(self) -> TrainConfig:
        """Raise a :class:`DancegenError` naming the first bad setting; returns ``self``."""
        if not self.data:
            raise DancegenError("no data directory: pass --data DIR (a FineDance-layout folder)")
        if not self.out:
            raise DancegenError("no output directory: pass --out runs/NAME")
        _positive_int(self, "steps", "batch_size", "checkpoint_every", "log_every", "keep_checkpoints", "prefetch")
        _non_negative_int(self, "warmup", "ema_start", "seed", "data_workers")
        if not isinstance(self.compile, bool):
            raise DancegenError(f"compile must be true or false, got {self.compile!r}")
        for name in ("lr", "weight_decay", "grad_clip", "min_lr_ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise DancegenError(f"{name} must be a non-negative number, got {value!r}")
        if self.lr <= 0:
            raise DancegenError(f"lr must be positive, got {self.lr}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise DancegenError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if not isinstance(self.ema_warmup, bool):
            raise DancegenError(f"ema_warmup must be true or false, got {self.ema_warmup!r}")
        if self.recipe and self.recipe not in RECIPES:
            raise DancegenError(f"unknown recipe {self.recipe!r}; choose one of: {', '.join(RECIPES)}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise DancegenError(f"betas must be two numbers in [0, 1), got {self.betas}")
        _choice(self, "shared", SHARED_CHOICES)
        _choice(self, "backend", BACKENDS)
        _choice(self, "lr_schedule", LR_SCHEDULES)
        _choice(self, "precision", PRECISIONS)
        _choice(self, "normalizer", ("minmax", "standard", "none"))
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown or not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise DancegenError(f"tasks must be distinct names among {', '.join(TASKS)}, got {self.tasks}")
        if self.shared == "representation" and self.backend not in ("auto", "representation"):
            raise DancegenError(f"shared='representation' uses the representation backend, not {self.backend!r}")
        if self.shared == "trunk" and self.tasks == ["C"]:
            raise DancegenError("shared='trunk' needs at least one motion task (S, J, V or F)")
        if self.backend == "representation" and self.shared != "representation":
            raise DancegenError("backend 'representation' needs shared='representation' (the activations it uses)")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise DancegenError(f"device must be auto, cpu or cuda[:N], got {self.device!r}")
        return self


def recipe_settings(name: str) -> dict[str, Any]:
    """The settings of the shipped recipe ``name`` (``dancegen/train/recipes/<name>.toml``). Unknown names: one
    :class:`DancegenError` line with the choices."""
    if not isinstance(name, str) or name not in RECIPES:
        close = difflib.get_close_matches(str(name), RECIPES, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise DancegenError(f"unknown recipe {name!r}{hint}; choose one of: {', '.join(RECIPES)}")
    from importlib import resources

    with resources.as_file(resources.files("dancegen.train") / "recipes" / f"{name}.toml") as path:
        data = read_toml(path)
    data["recipe"] = name
    return data


def merge_settings(below: dict[str, Any], above: dict[str, Any]) -> dict[str, Any]:
    """``above`` over ``below``; option tables (dicts) are merged key by key, so ``--aggregator-opt
    update_every=2`` keeps a recipe's ``min_norm_ratio``."""
    out = {k: _copy(v) for k, v in below.items()}
    for key, value in above.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **_copy(value)}
        else:
            out[key] = _copy(value)
    return out


def with_recipe(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` over the settings of the recipe it names (``recipe``; none: ``data`` unchanged)."""
    name = data.get("recipe") or ""
    if not name:
        return data
    return merge_settings(recipe_settings(name), data)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(v) for v in value]
    return value


def _positive_int(cfg: TrainConfig, *names: str) -> None:
    for name in names:
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DancegenError(f"{name} must be a positive integer, got {value!r}")


def _non_negative_int(cfg: TrainConfig, *names: str) -> None:
    for name in names:
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise DancegenError(f"{name} must be a non-negative integer, got {value!r}")


def _choice(cfg: TrainConfig, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(cfg, name)
    if value not in choices:
        raise DancegenError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file (Python ≥ 3.11 ``tomllib``; ``tomli`` on 3.10) with one-line errors."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise DancegenError("reading --config needs Python 3.11+ or the 'tomli' package") from None
    p = Path(path).expanduser()
    if not p.is_file():
        raise DancegenError(f"config file not found: {p}")
    try:
        with p.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise DancegenError(f"{p}: invalid TOML: {exc}") from None


def parse_options(items: list[str] | None, what: str) -> dict[str, Any]:
    """``["key=value", ...]`` → dict; values parsed as JSON when they parse (numbers, true/false, lists),
    else kept as strings."""
    import json

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise DancegenError(f"{what}: expected key=value, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.strip().replace("-", "_")] = value
    return out
