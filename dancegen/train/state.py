"""Everything a run holds (data, encoder, controller, model, EMA, optimiser, aggregator, generators) and how it is
built, checkpointed and restored."""

from __future__ import annotations

import copy
import inspect
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import torch
from torch import Tensor

from mtlkit import Backend

from ..checkpoint.components import (
    Components,
    build_encoder,
    build_normalizer,
    checkpoint_parts,
    split_controller_state,
)
from ..checkpoint.files import (
    dataset_fingerprint,
    latest_checkpoint,
    load_flat,
    load_tree,
    read_config,
    save_checkpoint,
)
from ..errors import DancegenError, DataError
from ..features.encoder import MusicEncoder
from ..genre.controller import GenreController
from ..genre.genres import FINEDANCE, GenreSet, genre_set_config, get_genre_set
from ..model import GCDanceDenoiser, MotionNormalizer
from ..motion.skeleton import Skeleton
from ..motion.skeleton_files import load_skeleton
from ..precision import Precision
from .checkpoint import restore_rng_states, rng_states
from .config import TrainConfig
from .distributed import DistInfo, barrier
from .genre_inputs import GenreInputs
from .run_folder import foreign_entries, has_checkpoint

GENERATORS = ("data", "diffusion", "text", "aggregator")


def data_genre_config(cfg: TrainConfig, genre_set: GenreSet) -> TrainConfig:
    """``cfg`` with the genre controller's ``genres`` option set to the data's genre set; a ``genres`` the user
    gave that differs from the data's, or a controller that cannot take another set, is one DancegenError line."""
    from ..genre.registry import GENRE_CONTROLLERS

    opts = dict(cfg.controller_options)
    if "genres" in opts and get_genre_set(opts["genres"]) != genre_set:
        raise DancegenError(f"--controller-opt genres={opts['genres']!r} does not match the data, whose genres are "
                            f"the {genre_set.name} set ({', '.join(genre_set.genres)})")
    accepts_set = accepts(GENRE_CONTROLLERS.get(cfg.genre_controller).cls.__init__, "genres")
    if accepts_set:
        opts["genres"] = genre_set_config(genre_set)
    elif genre_set != FINEDANCE:
        raise DancegenError(f"genre controller {cfg.genre_controller!r} knows only the FineDance genres; the data's "
                            f"are the {genre_set.name} set: use --genre-controller text, label or none")
    return replace(cfg, controller_options=opts)


class EpochSampler:
    """Shuffled passes over ``n`` windows from a torch generator; batches may span two epochs."""

    def __init__(self, n: int, generator: torch.Generator) -> None:
        self.n, self.generator = n, generator
        self.perm = torch.randperm(n, generator=generator)
        self.pos, self.epoch = 0, 0

    def next(self, batch: int) -> Tensor:
        parts, need = [], batch
        while need:
            if self.pos == self.n:
                self.perm = torch.randperm(self.n, generator=self.generator)
                self.pos, self.epoch = 0, self.epoch + 1
            take = min(need, self.n - self.pos)
            parts.append(self.perm[self.pos : self.pos + take])
            self.pos, need = self.pos + take, need - take
        return torch.cat(parts)

    def state_dict(self) -> dict[str, Any]:
        return {"perm": self.perm, "pos": self.pos, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["perm"].numel()) != self.n:
            raise DancegenError(f"the checkpoint's data order covers {state['perm'].numel()} windows, the data set "
                                f"now has {self.n}: the data changed since the checkpoint")
        self.perm, self.pos, self.epoch = state["perm"].long(), int(state["pos"]), int(state["epoch"])


@dataclass
class RunState:
    cfg: TrainConfig
    encoder: MusicEncoder
    genre: GenreInputs
    controller: GenreController
    skeleton: Skeleton
    dataset: Any
    fingerprint: str
    normalizer: MotionNormalizer
    model: GCDanceDenoiser
    ema: GCDanceDenoiser
    params: list[Tensor]
    shared_params: list[Tensor]
    task_params: list[Tensor]
    optimizer: torch.optim.Optimizer
    aggregator: Any
    backend: Backend
    head_aggregator: Any
    scheduler: Any
    generators: dict[str, torch.Generator]
    sampler: EpochSampler
    window: int
    step: int = 0
    checkpoint: Path | None = None
    #: autocast and the fp16 gradient scaler (``cfg.precision`` on CUDA; fp32 on the CPU)
    precision: Precision = field(default_factory=lambda: Precision("fp32", "cpu"))

    def components(self) -> Components:
        """The run's model components (weights: the raw ones) as :mod:`dancegen.checkpoint` saves them."""
        return Components(self.model, self.normalizer, self.encoder, self.controller, self.skeleton,
                          music_spec=self.cfg.music_encoders, encoder_options=dict(self.cfg.encoder_options),
                          allow_random_weights=self.cfg.allow_random_weights, controller_name=self.genre.name,
                          trained_classifier=self.genre.use_classifier)


def check_out_dir(out: Path, resume: bool) -> Path | None:
    """The checkpoint to resume (``--resume``), or None for a fresh run into an empty/new directory."""
    if resume:
        ckpt = latest_checkpoint(out)
        if ckpt is None:
            raise DancegenError(f"nothing to resume in {out}: no 'latest' checkpoint pointer (start without --resume)")
        return ckpt
    if out.exists() and not out.is_dir():
        raise DancegenError(f"output directory {out} exists and is not a directory; choose another --out")
    if out.is_dir() and has_checkpoint(out):
        raise DancegenError(f"output directory {out} is not empty; pass --resume to continue it or choose "
                            f"another --out")
    foreign = foreign_entries(out) if out.is_dir() else []
    if foreign:  # no checkpoint: training's own leftovers are fine (a run killed before its first checkpoint)
        raise DancegenError(f"output directory {out} holds files that training does not write "
                            f"({', '.join(foreign[:3])}); choose another --out or move them out")
    return None


def accepts(fn: Any, name: str) -> bool:
    """Whether callable ``fn`` takes a keyword ``name``."""
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def build_aggregator(cfg: TrainConfig, generator: torch.Generator) -> tuple[Any, Backend]:
    """The registered aggregator with its options (a private generator for randomised ones) and the backend."""
    import mtlkit

    infos = {i.name: i for i in mtlkit.list_aggregators()}
    if cfg.aggregator not in infos:
        mtlkit.get_aggregator(cfg.aggregator)  # raises the registry's close-match error
    info = infos[cfg.aggregator]
    opts = cfg.aggregator_kwargs()

    if info.properties.randomised and accepts(info.cls.__init__, "generator") and not {"generator", "seed"} & set(opts):
        opts["generator"] = generator
    if info.properties.learnable and accepts(info.cls.__init__, "num_tasks") and "num_tasks" not in opts:
        opts["num_tasks"] = len(cfg.aggregated_tasks)  # its parameters must exist before the optimiser
    try:
        agg = mtlkit.get_aggregator(cfg.aggregator, **opts)
    except (TypeError, ValueError) as exc:
        raise DancegenError(f"aggregator {cfg.aggregator!r} with options {cfg.aggregator_options}: {exc}") from None
    backend = cast(Backend, "representation" if cfg.shared == "representation" else cfg.backend)  # checked
    if backend in ("gramian", "representation") and not info.properties.gramian_based:
        raise DancegenError(f"aggregator {cfg.aggregator!r} needs the full Jacobian: use --backend jacobian or auto "
                            f"(and --shared all or trunk)")
    return agg, backend


def takes_one_backward(aggregator: Any, k: int, backend: str) -> bool:
    """Whether mtlkit takes one backward of Σ w_i L_i: a loss-based method (any backend), or constant weights
    (``linear``) under ``backend="auto"`` (an explicit backend asks for the per-task gradients)."""
    import mtlkit

    if isinstance(aggregator, mtlkit.LossWeighting) and aggregator.properties.loss_based:
        return True
    if backend != "auto":
        return False
    try:
        return mtlkit.constant_weights(aggregator, k, torch.zeros(())) is not None
    except ValueError as exc:  # e.g. linear with a weight count other than the number of tasks
        raise DancegenError(f"aggregator {aggregator.name or type(aggregator).__name__!r}: {exc}") from None


def preflight(cfg: TrainConfig) -> None:
    """Fail fast on unknown aggregator, music-encoder and genre-controller names, a data directory that is not
    one, an output folder that cannot be written and ``compile`` with per-task parameter gradients (before any data
    is read)."""
    import mtlkit

    from ..features import parse_encoder_spec
    from ..features.registry import MUSIC_ENCODERS
    from ..genre.registry import GENRE_CONTROLLERS
    from ..path_checks import check_input_dir, check_output_dir

    check_input_dir(cfg.data, "data directory")
    check_output_dir(cfg.out, "--out")

    if cfg.aggregator not in {i.name for i in mtlkit.list_aggregators()}:
        mtlkit.get_aggregator(cfg.aggregator)  # raises the registry's close-match error
    for name in parse_encoder_spec(cfg.music_encoders):
        MUSIC_ENCODERS.get(name)
    GENRE_CONTROLLERS.get(cfg.genre_controller)
    if cfg.compile:
        check_compile(cfg)


def check_compile(cfg: TrainConfig) -> None:
    """``compile`` needs ONE backward through the denoiser per step: a compiled graph's backward cannot run once per
    task (it frees its saved tensors), so per-task gradients must be taken in representation space or not at all."""
    aggregator, backend = build_aggregator(cfg, torch.Generator())
    if backend != "representation" and not takes_one_backward(aggregator, len(cfg.aggregated_tasks), cfg.backend):
        raise DancegenError(f"--compile needs one backward through the model per step, but aggregator "
                            f"{cfg.aggregator!r} with --backend {cfg.backend} takes one per task: add --shared "
                            f"representation, or use a fixed-weight or loss-based method (linear, dwa, uw, famo, …)")


def _check_resume(ckpt: dict[str, Any], cfg: TrainConfig, encoder: Any, genre: GenreInputs) -> None:
    saved = ckpt["music_encoder"]
    if saved["dim"] != encoder.dim or saved["config_hash"] != encoder.config_hash():
        raise DancegenError(
            f"music encoders {cfg.music_encoders!r} give {encoder.dim}-D features (config {encoder.config_hash()}) but "
            f"the checkpoint was trained on {saved['dim']}-D {saved['spec']!r} (config {saved['config_hash']}); "
            f"resume with --music-encoders {saved['spec']} and the same encoder options")
    ctrl = ckpt["genre_controller"]
    if ctrl["name"] != cfg.genre_controller or ctrl["embedding_dim"] != genre.embedding_dim:
        raise DancegenError(f"genre controller {cfg.genre_controller!r} ({genre.embedding_dim}-D) differs from the "
                            f"checkpoint's {ctrl['name']!r} ({ctrl['embedding_dim']}-D)")
    saved_set = get_genre_set(ctrl.get("config", {}).get("genres"))
    if saved_set.genres != genre.controller.genres:
        raise DancegenError(f"the data's genres (the {genre.controller.genre_set.name} set) differ from the "
                            f"checkpoint's ({saved_set.name}: {', '.join(saved_set.genres)}); resume on the same data")
    train = ckpt["train"]
    for key in ("aggregator", "tasks", "shared", "preset", "model", "batch_size"):
        if train[key] != getattr(cfg, key):
            raise DancegenError(f"{key} cannot change on --resume: the checkpoint has {train[key]!r}, "
                                f"this run asks for {getattr(cfg, key)!r}")


def _fit_normalizer(dataset: Any, mode: str) -> MotionNormalizer:
    """Fit the motion normaliser on the training windows (root re-centred), streaming over them."""
    n = len(dataset)
    if mode == "minmax":  # min/max per channel is all a min-max fit uses
        lo = hi = None
        for i in range(n):
            m = dataset[i]["motion"]
            lo = m.min(0).values if lo is None else torch.minimum(lo, m.min(0).values)
            hi = m.max(0).values if hi is None else torch.maximum(hi, m.max(0).values)
        if lo is None or hi is None:
            raise DancegenError("no training windows to fit the motion normaliser on")
        return MotionNormalizer.fit(torch.stack((lo, hi)), mode)
    step = max(1, n // 4096)  # a deterministic subsample of at most ~4096 windows
    return MotionNormalizer.fit(torch.stack([dataset[i]["motion"] for i in range(0, n, step)]), mode)


def build_run(cfg: TrainConfig, device: str, dist: DistInfo, resume: bool) -> RunState:
    """Build every component of a run; with ``resume`` the checkpoint's configuration is checked against it."""
    import mtlkit

    from ..data import FeatureCache, WindowDataset, default_cache_root, load_dataset
    from ..diffusion import DiffusionScheduler
    from ..model import ModelConfig

    preflight(cfg)
    cuda = device.startswith("cuda")
    out = Path(cfg.out).expanduser()
    data_dir = Path(cfg.data).expanduser()
    if not any(data_dir.iterdir()):
        raise DataError(f"data directory {data_dir} is empty (expected a FineDance-layout folder — motion/, "
                        "music_wav/ and labels — or an AIST++ folder — motions/, wav/ and splits/)")
    ckpt_dir = check_out_dir(out, resume)  # every rank checks, so all fail alike before any collective call
    encoder = build_encoder(cfg.music_encoders, cfg.encoder_options, cfg.allow_random_weights)
    skeleton = load_skeleton(cfg.skeleton)
    # FineDance layout or AIST++ (protocol: FineDance only); the data's genre set is the controller's
    sequences = load_dataset(data_dir, cfg.split, cfg.protocol, skeleton)
    genre = GenreInputs.build(data_genre_config(cfg, sequences.genre_set), device)
    ckpt = read_config(ckpt_dir) if ckpt_dir is not None else None
    if ckpt is not None:
        _check_resume(ckpt, cfg, encoder, genre)
    cache = FeatureCache(cfg.cache_dir or default_cache_root(data_dir), encoder)
    # every rank fills the shared cache (each song encoded once, under its lock; ranks start on different songs)
    # and memory-maps it, so the ranks of a node share one copy of the features
    songs = len({s.song_id for s in sequences})
    dataset = WindowDataset(sequences, cache, "train", progress=cfg.progress and dist.is_main,
                            fill_start=dist.rank * songs // max(dist.world_size, 1))
    barrier(dist, "every rank's feature-cache fill")
    fingerprint = dataset_fingerprint(data_dir)
    if ckpt is not None and ckpt["data"]["fingerprint"] != fingerprint and dist.is_main:
        print(f"warning: the data in {data_dir} changed since the checkpoint (fingerprint differs)", file=sys.stderr)

    torch.manual_seed(cfg.seed)  # parameter initialisation: identical on every rank
    mcfg = ModelConfig.preset(cfg.preset, **{**cfg.model, "music_dim": encoder.dim,
                                             "genre_dim": genre.embedding_dim})
    if mcfg.seq_len < dataset.window:
        raise DancegenError(f"model seq_len {mcfg.seq_len} is shorter than the {dataset.window}-frame windows")
    model = GCDanceDenoiser(mcfg).to(device)
    ema = copy.deepcopy(model).requires_grad_(False).eval()
    controller = genre.controller.to(device)
    torch.manual_seed(cfg.seed + 1 + dist.rank)  # dropout: torch's global RNG, per rank

    shared, task = genre.split_params(model, cfg)
    params = shared + task
    generators = {name: torch.Generator().manual_seed(cfg.seed * 1000 + k) for k, name in enumerate(GENERATORS)}
    aggregator, backend = build_aggregator(cfg, generators["aggregator"])
    aggregator.to(device)
    groups: list[dict[str, Any]] = [{"params": params}]
    own = [p for p in aggregator.parameters() if p.requires_grad]  # learnable weights (uncertainty weighting)
    if own:
        groups.append({"params": own, "weight_decay": 0.0})
        params = params + own
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.betas[0], cfg.betas[1]), weight_decay=cfg.weight_decay)
    normalizer = (_fit_normalizer(dataset, cfg.normalizer) if ckpt_dir is None
                  else build_normalizer(load_flat(ckpt_dir, "normalizer"), cfg.normalizer)).to(device)
    return RunState(cfg=cfg, encoder=encoder, genre=genre, controller=controller, skeleton=skeleton.to(device),
                    dataset=dataset, fingerprint=fingerprint, normalizer=normalizer, model=model, ema=ema,
                    params=params, shared_params=shared, task_params=task, optimizer=optimizer, aggregator=aggregator,
                    backend=backend, head_aggregator=mtlkit.get_aggregator("linear"),
                    scheduler=DiffusionScheduler(), generators=generators,
                    sampler=EpochSampler(len(dataset), generators["data"]), window=dataset.window,
                    checkpoint=ckpt_dir,
                    precision=Precision(cfg.precision if cuda else "fp32", "cuda" if cuda else "cpu"))


def save(r: RunState, out: Path, data_state: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint of the current step (rank 0). ``data_state`` is the data order after the last batch
    trained (:meth:`~dancegen.train.batches.BatchStream.state`: the sampler's state and its generator's) when
    batches were drawn ahead; by default the live sampler's."""
    import mtlkit

    from .. import __version__

    cfg = r.cfg
    parts = checkpoint_parts(r.components(), ema=r.ema)  # model, EMA, normaliser, encoder, controller, skeleton
    config = {
        "code_version": {"dancegen": __version__, "mtlkit": mtlkit.__version__, "torch": torch.__version__},
        "train": cfg.to_dict(),
        **parts.config,
        "data": {"dir": str(Path(cfg.data).expanduser().resolve()), "split": cfg.split, "protocol": cfg.protocol,
                 "genres": r.controller.genre_set.name,
                 "hands_present": all(seq.hands_present for seq in r.dataset.sequences),
                 "fingerprint": r.fingerprint, "windows": r.dataset.stats},
        "aggregator": {"name": cfg.aggregator, "options": {k: v for k, v in cfg.aggregator_kwargs().items()
                                                           if k != "generator"}, "backend": r.backend},
        "tasks": list(cfg.tasks),
    }
    trees: dict[str, Any] = {
        "optimizer": r.optimizer.state_dict(),
        "aggregator": r.aggregator.state_dict(),
        "rng": _rng_tree(r, data_state),
    }
    if r.precision.scaler is not None:
        trees["scaler"] = r.precision.state_dict()
    return save_checkpoint(out, r.step, config, parts.flat, trees, keep=cfg.keep_checkpoints, files=parts.files)


def _rng_tree(r: RunState, data_state: dict[str, Any] | None) -> dict[str, Any]:
    generators = rng_states(r.generators)
    if data_state is None:
        return {"generators": generators, "sampler": r.sampler.state_dict()}
    sampler = {k: v for k, v in data_state.items() if k != "generator"}
    return {"generators": generators | {"data": data_state["generator"]}, "sampler": sampler}


def restore(r: RunState, folder: Path) -> None:
    """Load a checkpoint's weights, optimiser, aggregator and RNG states into ``r``."""
    ckpt = read_config(folder)
    model_state, ctrl = split_controller_state(load_flat(folder, "model"))
    ema_state, _ = split_controller_state(load_flat(folder, "ema"))
    r.model.load_state_dict(model_state)
    r.ema.load_state_dict(ema_state)
    r.controller.load_state_dict(ctrl)
    r.optimizer.load_state_dict(load_tree(folder, "optimizer"))
    try:
        r.aggregator.load_state_dict(load_tree(folder, "aggregator"))
    except ValueError as exc:
        raise DancegenError(f"cannot restore the aggregator state from {folder}: {exc}") from None
    rng = load_tree(folder, "rng")
    restore_rng_states(rng["generators"], r.generators)
    r.sampler.load_state_dict(rng["sampler"])
    if r.precision.scaler is not None and (folder / "scaler.json").is_file():  # an fp16 run's loss scale
        r.precision.load_state_dict(load_tree(folder, "scaler"))
    r.step = int(ckpt["step"])
