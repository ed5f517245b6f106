"""Worker for tests/dancegen/test_shared_cache.py, run under ``torch.distributed.run`` or as a plain process.

``fill OUT CACHE SONGS_JSON``: this process fills the shared feature cache (stft) starting at a rank-rotated song and
writes its counts to ``OUT/rank<R>.json``. ``barrier OUT``: rank 0 waits at :func:`dancegen.train.distributed.barrier`
while rank 1 never arrives; the one-line error is written to ``OUT/rank0.json``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def fill(out: Path, cache_dir: str, songs_json: str) -> None:
    from dancegen.data import FeatureCache
    from dancegen.features import build_music_encoder

    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    songs = json.loads(Path(songs_json).read_text())
    cache = FeatureCache(cache_dir, build_music_encoder("stft"))
    counts = cache.fill(songs.items(), progress=False, start=rank * len(songs) // world)
    (out / f"rank{rank}.json").write_text(json.dumps(counts))


def barrier(out: Path) -> None:
    from dancegen.errors import DancegenError
    from dancegen.train.distributed import barrier, init_distributed, shutdown

    info = init_distributed("cpu")
    result: dict[str, object] = {"rank": info.rank}
    if info.rank == 0:
        tic = time.monotonic()
        try:
            barrier(info, "the feature cache")
            result["error"] = None
        except DancegenError as exc:
            result["error"] = str(exc)
        result["seconds"] = time.monotonic() - tic
    else:
        time.sleep(6.0)  # never arrives at the barrier
    (out / f"rank{info.rank}.json").write_text(json.dumps(result))
    if info.rank == 0 and result["error"] is None:
        shutdown(info)
    os._exit(0)  # the group is broken on purpose: skip its teardown


if __name__ == "__main__":
    command, out = sys.argv[1], Path(sys.argv[2])
    if command == "fill":
        fill(out, sys.argv[3], sys.argv[4])
    else:
        barrier(out)
