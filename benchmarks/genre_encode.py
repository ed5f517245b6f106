"""MiniLM text-encoding speed and the text controller's cost per call (cold vs cached).

    python benchmarks/genre_encode.py [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from dancegen.genre.controllers import TextController
from dancegen.genre.descriptions import load_descriptions
from dancegen.genre.encoders import MiniLMEncoder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    texts = [d.text for d in load_descriptions()]
    encoder = MiniLMEncoder(device=args.device)
    t0 = time.perf_counter()
    encoder.encode(["warm-up"])
    load_s = time.perf_counter() - t0
    encoder._cache.clear()
    t0 = time.perf_counter()
    encoder.encode(texts, batch_size=128)
    batch_s = time.perf_counter() - t0
    encoder._cache.clear()
    t0 = time.perf_counter()
    for t in texts[:50]:
        encoder.encode([t])
    single_s = (time.perf_counter() - t0) / 50
    ctrl = TextController()
    ctrl.encoder = encoder  # embeddings of all descriptions are cached now
    t0 = time.perf_counter()
    for _ in range(20):
        ctrl.logits(texts[:128])
    cached_s = (time.perf_counter() - t0) / 20
    print(json.dumps({"device": args.device, "threads": torch.get_num_threads(), "texts": len(texts),
                      "load_s": round(load_s, 2), "texts_per_s_batch128": round(len(texts) / batch_s, 1),
                      "ms_per_text_batch1": round(single_s * 1e3, 1),
                      "ms_logits_128_cached": round(cached_s * 1e3, 2)}, indent=1))


if __name__ == "__main__":
    main()
