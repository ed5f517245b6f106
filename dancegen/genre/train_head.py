"""Train the text controller's classifier head on the genre-description set (seconds on a CPU).

Reproduce the shipped MiniLM head (``dancegen/assets/genre_head_minilm.safetensors``)::

    python -m dancegen.genre.train_head

Other encoders: ``python -m dancegen.genre.train_head --text-encoder clip --weights DIR --out head.safetensors``
then ``TextController(text_encoder={"name": "clip", "weights": DIR}, head="head.safetensors")``.
The head sees the frozen encoder's embeddings of the train split plus the 16 genre prompts; a temperature
fitted on 4-fold out-of-fold logits calibrates its probabilities; the file also stores
the prompt embeddings (C_E), the description-file hash and the held-out accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from .controllers import SHIPPED_HEAD, GenreHead
from .descriptions import descriptions_sha256, load_descriptions
from .encoders import build_text_encoder, prompt_embeddings
from .genres import GENRES, NUM_GENRES, PROMPT_TEMPLATE

DEFAULTS: dict[str, Any] = {"hidden": 256, "steps": 300, "lr": 1e-2, "weight_decay": 1e-2, "seed": 0}


def fit_head(embeddings: torch.Tensor, labels: torch.Tensor, hidden: int = 256, steps: int = 300, lr: float = 1e-2,
             weight_decay: float = 1e-2, seed: int = 0) -> GenreHead:
    """Full-batch AdamW on cross-entropy; deterministic for a given seed (own RNG state, restored after)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = GenreHead(embeddings.shape[1], hidden)
        opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
        head.train()
        for _ in range(steps):
            loss = torch.nn.functional.cross_entropy(head(embeddings), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return head.eval()


def fit_temperature(embeddings: torch.Tensor, labels: torch.Tensor, folds: int = 4, **options: Any) -> float:
    """Temperature minimising the cross-entropy of out-of-fold logits (``folds`` fits on the rest)."""
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(int(options.get("seed", 0))))
    held_logits, held_labels = [], []
    for k in range(folds):
        val = order[k::folds]
        keep = torch.ones(len(labels), dtype=torch.bool)
        keep[val] = False
        head = fit_head(embeddings[keep], labels[keep], **options)
        with torch.no_grad():
            held_logits.append(head(embeddings[val]))
        held_labels.append(labels[val])
    logits, target = torch.cat(held_logits), torch.cat(held_labels)
    grid = torch.logspace(-0.5, 1.5, 81)
    losses = torch.stack([torch.nn.functional.cross_entropy(logits / t, target) for t in grid])
    return float(grid[int(losses.argmin())])


@torch.no_grad()
def accuracy(head: GenreHead, embeddings: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of ``head`` on precomputed embeddings."""
    return float((head(embeddings).argmax(-1) == labels).float().mean())


def train_head(text_encoder: str | dict[str, Any] = "minilm", out: str | Path | None = None,
               **options: Any) -> dict[str, Any]:
    """Encode the descriptions, fit the head, write it (atomically) to ``out``; returns a small report."""
    from safetensors.torch import save_file

    opts = {**DEFAULTS, **options}
    encoder = build_text_encoder(text_encoder)
    train, test = load_descriptions("train"), load_descriptions("test")
    prompts = [PROMPT_TEMPLATE.format(genre=g) for g in GENRES]
    x_train = encoder.encode([d.text for d in train] + prompts)
    y_train = torch.tensor([d.index for d in train] + list(range(NUM_GENRES)))
    head = fit_head(x_train, y_train, **opts)
    head.temperature.fill_(fit_temperature(x_train, y_train, **opts))
    test_acc = accuracy(head, encoder.encode([d.text for d in test]), torch.tensor([d.index for d in test]))
    report = {"text_encoder": json.dumps(encoder.config(), sort_keys=True), "model_id": encoder.model_id,
              "data_sha256": descriptions_sha256(), "train_items": str(len(y_train)),
              "test_items": str(len(test)), "test_accuracy": f"{test_acc:.4f}",
              "temperature": f"{float(head.temperature):.4f}", "torch": torch.__version__,
              "command": "python -m dancegen.genre.train_head", **{k: str(v) for k, v in opts.items()}}
    if out is None:
        if encoder.config() != build_text_encoder("minilm").config():
            raise ValueError("--out is required for encoders other than the default minilm")
        out = Path(__file__).resolve().parent.parent / "assets" / SHIPPED_HEAD
    out = Path(out)
    tensors = {f"head.{k}": v.detach().contiguous() for k, v in head.state_dict().items()}
    tensors["prompt_embeddings"] = prompt_embeddings(encoder, use_disk_cache=False).contiguous()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=report)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return {**report, "out": str(out)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dancegen.genre.train_head", description=__doc__.splitlines()[0])
    parser.add_argument("--text-encoder", default="minilm", help="minilm (default) or clip")
    parser.add_argument("--weights", default=None, help="text-encoder weights directory or hub id")
    parser.add_argument("--out", default=None, help="output .safetensors (default: the shipped MiniLM asset)")
    for key, value in DEFAULTS.items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    encoder = {"name": args.text_encoder, "weights": args.weights}
    opts = {k: getattr(args, k) for k in DEFAULTS}
    report = train_head(encoder, args.out, **opts)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
