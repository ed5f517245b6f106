"""Ablation sweeps (``dancegen ablate``): aggregators × music encoders × genre controllers × seeds, each run a plain
``dancegen train`` + ``dancegen evaluate`` subprocess, resumable, summarised like the paper's Tables III/IV."""

from .grid import Combination, SweepSettings, build_grid, evaluate_command, shell, train_command
from .runner import RunState, is_finished, results_of, run_one, run_sweep
from .summary import best_per_column, render_markdown, summary_rows, write_summary

__all__ = [
    "Combination", "RunState", "SweepSettings", "best_per_column", "build_grid",
    "evaluate_command", "is_finished", "render_markdown", "results_of", "run_one", "run_sweep", "shell",
    "summary_rows", "train_command", "write_summary",
]
