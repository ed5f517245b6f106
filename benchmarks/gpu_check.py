"""GPU check (issue 15): the ``paper`` preset's 4-s clip time and train-step times, on whatever device is there.

Prints, in one run:

1. **Sampling**: one 4-s clip (120 frames) with the ``paper``-preset denoiser (random weights; ≈ 88 M parameters
   with the 705-D Wav2CLIP ‖ STFT input when Wav2CLIP can be built, else STFT), default sampler (DDIM 50, η = 1,
   CFG 2.7) through :class:`~dancegen.pipeline.DancePipeline` — fp32, and on CUDA bf16 autocast and
   ``torch.compile`` (``DancePipeline.set_precision``) — plus 20-step DPM-Solver++(2M), deterministic and SDE.
   Target: ≤ 0.05 s per clip on an H100-class GPU (the paper reports 0.22 s for its own code).
2. **Training**: one optimisation step (forward, five task losses, ``mtlkit.backward``, AdamW) at batch ``--batch``
   for ``linear`` (EDGE weights, the plain sum — the baseline), ``nash`` in parameter space (gramian backend) and
   ``nash`` in representation space, with their ratios to the linear step.
3. **Trainer**: steps of the real training loop (:class:`dancegen.train.Trainer`: batches from a procedural data
   set, ``nash`` in representation space as ``--recipe fast`` trains) at ``--trainer-batch``: fp32 in the training
   process, then with ``--data-workers 4``, and on CUDA bf16, fp16 with the loss scaler, and bf16 + ``--compile``;
   ms per step over ``--trainer-steps`` after 5 warm-up steps, the losses read once at the end.

Times are medians of ``--repeats`` after warm-up, with ``torch.cuda.synchronize`` around each on CUDA. Run:

    bash benchmarks/gpu_check.sh            # or: python benchmarks/gpu_check.py --device cuda --batch 128
    python benchmarks/gpu_check.py --device cpu --preset tiny --batch 2 --repeats 1   # smoke run on a CPU
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import torch

SR = 15360


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def median_seconds(fn: Callable[[], object], device: str, repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn`` over ``repeats`` calls after ``warmup`` calls (device synchronised)."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def build_pipeline(preset: str, device: str) -> tuple[object, str]:
    """A :class:`DancePipeline` over a random-weight ``preset`` denoiser; returns it and the music features used."""
    from dancegen.diffusion import DiffusionScheduler
    from dancegen.features import build_music_encoder
    from dancegen.genre.registry import build_genre_controller
    from dancegen.model import GCDanceDenoiser, ModelConfig
    from dancegen.model.normalizer import MotionNormalizer
    from dancegen.pipeline import DancePipeline

    try:
        encoder, music = build_music_encoder("wav2clip,stft", allow_random_weights=True), "wav2clip+stft (random)"
    except Exception:  # an install without Wav2CLIP support: STFT only (one smaller input projection)
        encoder, music = build_music_encoder("stft"), "stft"
    controller = build_genre_controller("label")
    torch.manual_seed(0)
    model = GCDanceDenoiser(ModelConfig.preset(preset, music_dim=encoder.dim, genre_dim=controller.embedding_dim))
    pipe = DancePipeline(model, DiffusionScheduler(), MotionNormalizer(), encoder, controller)
    return pipe.to(device), music


def sampling(args: argparse.Namespace) -> None:
    pipe, music = build_pipeline(args.preset, args.device)
    model = pipe.model  # type: ignore[attr-defined]
    params = sum(p.numel() for p in model.parameters()) / 1e6
    audio = (0.3 * np.sin(2 * np.pi * 2.0 * np.arange(4 * SR) / SR)).astype(np.float32)
    print(f"\n## sampling: one 4-s clip, preset {args.preset} ({params:.1f}M params, music {music}), "
          f"device {args.device}")

    def clip(steps: int = 50, sampler: str = "ddim") -> Callable[[], object]:
        def run() -> object:
            return pipe(audio, SR, genre="Popping", steps=steps, sampler=sampler, cleanup="none")  # type: ignore[operator]
        return run

    rows: list[tuple[str, float]] = [("DDIM-50 fp32 (default)", median_seconds(clip(), args.device, args.repeats))]
    rows.append(("DPM-Solver++(2M)-20 fp32", median_seconds(clip(20, "dpmpp_2m"), args.device, args.repeats)))
    rows.append(("SDE-DPM-Solver++(2M)-20 fp32", median_seconds(clip(20, "dpmpp_2m_sde"), args.device, args.repeats)))
    rows.append(("UniPC-10 fp32", median_seconds(clip(10, "unipc"), args.device, args.repeats)))
    if args.device.startswith("cuda"):
        pipe.set_precision("bf16")  # type: ignore[attr-defined]
        rows.append(("DDIM-50 bf16 autocast", median_seconds(clip(), args.device, args.repeats)))
        rows.append(("DPM-Solver++(2M)-20 bf16", median_seconds(clip(20, "dpmpp_2m"), args.device, args.repeats)))
        if args.compile:
            pipe.set_precision("bf16", compile=True)  # type: ignore[attr-defined]
            rows.append(("DDIM-50 bf16 + torch.compile", median_seconds(clip(), args.device, args.repeats,
                                                                      warmup=2)))
    base = rows[0][1]
    for name, sec in rows:
        print(f"{name:<34}{sec:>9.3f} s/clip {base / sec:>7.2f}x")


def training(args: argparse.Namespace) -> None:
    import mtlkit
    from dancegen.diffusion import DiffusionScheduler
    from dancegen.losses import EDGE_WEIGHTS, TASKS, task_loss_terms
    from dancegen.model import GCDanceDenoiser, ModelConfig
    from dancegen.motion import Skeleton

    dev = args.device
    torch.manual_seed(0)
    model = GCDanceDenoiser(ModelConfig.preset(args.preset, music_dim=705, genre_dim=384)).to(dev)
    head = torch.nn.Sequential(torch.nn.Linear(384, 256), torch.nn.GELU(), torch.nn.Linear(256, 16)).to(dev)
    params = [*model.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-5, weight_decay=0.02)
    sched, skel = DiffusionScheduler(), Skeleton.default().to(dev)
    g = torch.Generator().manual_seed(0)
    B = args.batch
    x0 = (torch.rand(B, 120, 319, generator=g) * 2 - 1).to(dev)
    batch = {"x0": x0, "t": torch.randint(0, 1000, (B,), generator=g), "noise": torch.randn(x0.shape, generator=g),
             "music": torch.randn(B, 120, 705, generator=g), "genre": torch.randn(B, 384, generator=g),
             "labels": torch.randint(0, 16, (B,), generator=g)}
    batch = {k: v.to(dev) for k, v in batch.items()}
    w = [EDGE_WEIGHTS.get(t, 1.0) for t in TASKS]
    use_bf16 = dev.startswith("cuda") and args.bf16

    def amp() -> AbstractContextManager[object]:
        return torch.autocast("cuda", dtype=torch.bfloat16) if use_bf16 else nullcontext()

    def forward() -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        x_t = sched.add_noise(batch["x0"], batch["noise"], batch["t"])
        with amp():
            pred = model(x_t, batch["t"], batch["music"], batch["genre"]).float()
            logits = head(batch["genre"]).float()
        terms = task_loss_terms(pred, batch["x0"], skel, logits, batch["labels"])
        return list(terms.values()), pred, logits

    def step(agg: str | None, backend: str = "gramian") -> Callable[[], None]:
        method = None if agg is None else mtlkit.get_aggregator(agg, **({"weights": w} if agg == "linear" else {}))

        def run() -> None:
            losses, pred, logits = forward()
            if method is None:
                sum(wi * li for wi, li in zip(w, losses)).backward()
            else:
                kw = {"representation": [pred, logits]} if backend == "representation" else {}
                mtlkit.backward(losses, params, method, backend=backend, **kw)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
        return run

    n = sum(p.numel() for p in params) / 1e6
    print(f"\n## training: one step, preset {args.preset} ({n:.1f}M params), batch {B}, device {dev}"
          f"{', bf16 autocast' if use_bf16 else ''}")
    rows = [("plain backward (EDGE weights)", step(None)), ("linear (mtlkit)", step("linear")),
            ("nash, parameter space (gramian)", step("nash", "gramian")),
            ("nash, representation space", step("nash", "representation"))]
    base = None
    for name, fn in rows:
        sec = median_seconds(fn, dev, args.repeats)
        base = base or sec
        print(f"{name:<34}{sec * 1e3:>10.1f} ms/step {sec / base:>7.2f}x")


def trainer_steps(args: argparse.Namespace) -> None:
    import tempfile
    from pathlib import Path

    from dancegen.data.synth.writer import build
    from dancegen.train import TrainConfig, Trainer

    cuda = args.device.startswith("cuda")
    variants: list[tuple[str, dict[str, object]]] = [("fp32, loading in the training process", {}),
                                                     ("fp32, 4 data workers", {"data_workers": 4})]
    if cuda:
        variants += [("bf16, 4 data workers", {"data_workers": 4, "precision": "bf16"}),
                     ("fp16 + loss scaler, 4 data workers", {"data_workers": 4, "precision": "fp16"})]
        if args.compile:
            variants.append(("bf16 + compile, 4 data workers", {"data_workers": 4, "precision": "bf16",
                                                                "compile": True}))
    print(f"\n## trainer: nash (representation space), preset {args.preset}, batch {args.trainer_batch}, "
          f"device {args.device}")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        build(data, songs_per_genre=1, seconds=12.0, genres=["Breaking", "Jazz", "Popping", "Dai"])
        base = None
        for k, (name, over) in enumerate(variants):
            cfg = TrainConfig.from_dict({
                "data": str(data), "out": str(Path(tmp) / f"run{k}"), "music_encoders": "stft",
                "genre_controller": "label", "tasks": ["S", "J", "V", "F"], "preset": args.preset,
                "batch_size": args.trainer_batch, "steps": 10 ** 6, "aggregator": "nash", "shared": "representation",
                "device": args.device, "progress": False, "tensorboard": False,
                "cache_dir": str(Path(tmp) / "cache"), **over})
            trainer = Trainer(cfg)
            try:
                for _ in range(5):
                    trainer.train_step()
                _sync(args.device)
                t0 = time.perf_counter()
                outs = [trainer.train_step() for _ in range(args.trainer_steps)]
                torch.stack([o["losses"] for o in outs]).tolist()  # one read: waits for every step
                sec = (time.perf_counter() - t0) / args.trainer_steps
            finally:
                trainer.stream.close()
            base = base or sec
            print(f"{name:<38}{sec * 1e3:>10.1f} ms/step {sec / base:>7.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--batch", type=int, default=128, help="training batch (the paper: 128)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-compile", dest="compile", action="store_false", help="skip the torch.compile row")
    ap.add_argument("--no-bf16", dest="bf16", action="store_false", help="train steps in fp32 on CUDA")
    ap.add_argument("--trainer-batch", type=int, default=64, help="batch of the Trainer rows (--recipe fast: 64)")
    ap.add_argument("--trainer-steps", type=int, default=20)
    ap.add_argument("--skip", choices=("sampling", "training", "trainer"), action="append", default=[])
    args = ap.parse_args()
    if args.device.startswith("cuda"):
        print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    else:
        print(f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__} (no GPU: not the targets' numbers)")
    if "sampling" not in args.skip:
        sampling(args)
    if "training" not in args.skip:
        training(args)
    if "trainer" not in args.skip:
        trainer_steps(args)


if __name__ == "__main__":
    main()
