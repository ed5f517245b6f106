"""Ablation sweeps (``dancegen ablate``): aggregators × music encoders × genre controllers × seeds, or the rows of
the paper's Tables III/IV (``--table``), each run a plain ``dancegen train`` + ``dancegen evaluate`` subprocess,
resumable, summarised as tables."""

from .grid import Combination, SweepSettings, build_grid, evaluate_command, shell, train_command
from .runner import RunState, is_finished, results_of, run_one, run_sweep
from .summary import (
    best_per_column,
    mean_std,
    render_markdown,
    render_table_markdown,
    summary_rows,
    table_summary,
    write_summary,
    write_table_summary,
)
from .tables import (
    PaperTable,
    Published,
    TableRow,
    check_weights,
    get_table,
    parse_substitutes,
    random_weight_components,
    select_rows,
    table_names,
    table_runs,
)

__all__ = [
    "Combination", "PaperTable", "Published", "RunState", "SweepSettings", "TableRow", "best_per_column",
    "build_grid", "check_weights", "evaluate_command", "get_table", "is_finished", "mean_std", "parse_substitutes",
    "random_weight_components", "render_markdown", "render_table_markdown", "results_of", "run_one", "run_sweep",
    "select_rows", "shell", "summary_rows", "table_names", "table_runs", "table_summary", "train_command",
    "write_summary", "write_table_summary",
]
