"""DDIM-50 against few-step solvers (DPM-Solver++(2M), UniPC, …) with the bundled model: time and whole-song quality.

Generates a procedural song (``dancegen.demo.synth_song``, the genre's synthesised music with known beats) with the
bundled model (``dancegen.checkpoint.default_checkpoint_dir()``, what ``dancegen generate`` uses by default) and
``cleanup="none"`` (raw model output), once per sampler configuration and seed, all in one process. Per run: the
sampling time, the long-form figures of :meth:`DancePipeline.quality` (seam ratio, contact skating, …) and BAS on
the song's beats; per configuration: the mean, and an FID_k-style Fréchet distance between the kinetic features of
its 4-s slices and those of the baseline's (body joints, root-relative, as the gcdance protocol prepares them).
The baseline's own seed-to-seed spread (min–max over seeds) is printed beside it, and each mean as a ratio to it.
A configuration is SAMPLER:STEPS (any of ``dancegen.pipeline.SAMPLERS``) with an optional :ETA for DDIM (else
``--eta``). With ``--json`` the per-run rows go to stderr as they finish and the summary to stdout.

    .venv/bin/python benchmarks/samplers.py --seconds 24 --seeds 0 1 2 --configs ddim:50 dpmpp_2m:10 dpmpp_2m:20
    .venv/bin/python benchmarks/samplers.py --seconds 20 --configs ddim:50 unipc:10 unipc:20 ddim:20:0
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np
import torch

KEYS = ("seam_ratio", "contact_skating_mps", "near_floor_sliding_mps", "joint_speed_mps", "bas")


def kinetic_slices(motion: torch.Tensor, skeleton: Any, frames: int = 120) -> np.ndarray:
    """Kinetic features (N, 66) of the dance's consecutive 4-s slices, body joints root-relative."""
    from dancegen.metrics import BODY_JOINTS, root_relative
    from dancegen.metrics.kinetic import kinetic_features
    from dancegen.motion.kinematics import forward_kinematics

    joints = forward_kinematics(motion.float(), skeleton).numpy()[:, list(BODY_JOINTS)]
    clips = [root_relative(joints[a:a + frames]) for a in range(0, joints.shape[0] - frames + 1, frames)]
    return kinetic_features(np.stack(clips))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genre", default="Jazz")
    ap.add_argument("--seconds", type=float, default=24.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--configs", nargs="+", default=["ddim:50", "dpmpp_2m:10", "dpmpp_2m:20"],
                    help="SAMPLER:STEPS[:ETA]; the first is the baseline")
    ap.add_argument("--eta", type=float, default=1.0,
                    help="DDIM η where a config gives none (the other samplers ignore it)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from dancegen.demo import bas_of, synth_song
    from dancegen.metrics.fid import fid
    from dancegen.pipeline import DancePipeline

    pipe = DancePipeline.from_checkpoint()
    audio, sr, beats, bpm = synth_song(args.genre, args.seconds, seed=0)
    pipe(audio[: 4 * sr], sr, genre=args.genre, steps=2, cleanup="none")  # warm-up
    configs: list[tuple[str, int, float, str]] = []
    for c in args.configs:
        parts = c.split(":")
        if len(parts) not in (2, 3):
            ap.error(f"--configs {c!r}: expected SAMPLER:STEPS[:ETA]")
        eta = float(parts[2]) if len(parts) == 3 else args.eta
        name = f"{parts[0]}-{parts[1]}" + (f"-eta{eta:g}" if parts[0] == "ddim" and len(parts) == 3 else "")
        configs.append((parts[0], int(parts[1]), eta, name))
    runs: dict[str, list[dict[str, Any]]] = {}
    feats: dict[str, list[np.ndarray]] = {}
    for sampler, steps, eta, name in configs:
        for seed in args.seeds:
            t0 = time.perf_counter()
            res = pipe(audio, sr, genre=args.genre, steps=steps, sampler=sampler, eta=eta, seed=seed,
                       cleanup="none")
            wall = time.perf_counter() - t0
            q = dict(res.quality[0])
            q["bas"] = bas_of(res.motion[0].numpy(), beats, pipe.skeleton)
            row = {"seed": seed, "sampling_s": res.stats["sampling_seconds"], "wall_s": round(wall, 3),
                   **{k: q.get(k) for k in KEYS}}
            runs.setdefault(name, []).append(row)
            feats.setdefault(name, []).append(kinetic_slices(res.motion[0], pipe.skeleton))
            print(name, json.dumps(row), flush=True, file=sys.stderr if args.json else sys.stdout)
    base = configs[0][3]
    base_feats = np.concatenate(feats[base])
    summary = []
    for name, rows in runs.items():
        entry: dict[str, Any] = {"config": name}
        for k in ("sampling_s", *KEYS):
            vals = np.array([r[k] for r in rows if r[k] is not None], dtype=float)
            bvals = np.array([r[k] for r in runs[base] if r[k] is not None], dtype=float)
            mean = float(vals.mean()) if vals.size else float("nan")
            entry[k] = round(mean, 4)
            entry[f"{k}_spread"] = [round(float(vals.min()), 4), round(float(vals.max()), 4)] if vals.size else None
            entry[f"{k}_vs_base"] = round(mean / float(bvals.mean()), 3) if bvals.size and bvals.mean() else None
            entry[f"{k}_in_base_range"] = bool(bvals.size and bvals.min() <= mean <= bvals.max())
        entry["fid_k_vs_base"] = round(fid(np.concatenate(feats[name]), base_feats), 3)
        summary.append(entry)
    # the baseline's own seed-to-seed FID_k: one seed's slices against the other seeds'
    if len(args.seeds) >= 3:
        own = [fid(feats[base][i], np.concatenate([f for j, f in enumerate(feats[base]) if j != i]))
               for i in range(len(args.seeds)) if feats[base][i].shape[0] >= 2]
        if own:
            summary[0]["fid_k_seed_vs_other_seeds"] = [round(float(min(own)), 3), round(float(max(own)), 3)]
    out = {"song": f"synthesised {args.genre}, {args.seconds:g} s, {bpm:.0f} bpm", "device": str(pipe.device),
           "threads": torch.get_num_threads(), "baseline": base, "eta": args.eta, "runs": runs, "summary": summary}
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"\n{out['song']}; baseline {base}; {out['device']}, {out['threads']} threads")
    head = f"{'config':<14}{'sampling s':>16}" + "".join(f"{k:>28}" for k in KEYS) + f"{'FID_k vs base':>15}"
    print(head)
    for e in summary:
        cells = [f"{e['sampling_s']:.2f} (x{e['sampling_s_vs_base']})"]
        for k in KEYS:
            lo_hi = e[f"{k}_spread"]
            cells.append(f"{e[k]:.3f} [{lo_hi[0]:.3f}-{lo_hi[1]:.3f}] x{e[f'{k}_vs_base']}" if lo_hi else "-")
        print(f"{e['config']:<14}{cells[0]:>16}" + "".join(f"{c:>28}" for c in cells[1:])
              + f"{e['fid_k_vs_base']:>15.3f}")
    if "fid_k_seed_vs_other_seeds" in summary[0]:
        print(f"baseline seed-vs-other-seeds FID_k: {summary[0]['fid_k_seed_vs_other_seeds']}")


if __name__ == "__main__":
    main()
