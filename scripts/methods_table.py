"""Print the table of every registered mtlkit method for docs/mtlkit/methods.md (from the registry itself).

    python scripts/methods_table.py
"""

from __future__ import annotations

import mtlkit

PAGES = {  # where each method's formula, reference, conventions and tolerance are documented
    "aggregators.md": {"nash", "aligned", "pcgrad", "linear"},
    "methods-projection.md": {"mean", "upgrad", "dualproj", "mgda", "krum", "trimmed_mean", "random", "graddrop",
                              "config", "pcd"},
    "methods-cagrad-family.md": {"cagrad", "gradvac", "fairgrad", "excess_mtl", "modo", "sdmgrad", "cr_mogm",
                                 "imtl"},
    "methods-libmtl.md": {"gradnorm", "dbmtl", "moco"},
    "loss-weighting.md": {"dwa", "uw", "famo", "rlw", "gls", "imtl_l", "stch", "pbi", "uw_so", "igb", "go4align",
                          "cov", "ldc_mtl"},
    "plugins.md": {"epo"},
}


def page_of(name: str) -> str:
    return next((page for page, names in PAGES.items() if name in names), "")


def table() -> str:
    rows = ["| name | kind | non-conflicting | stateful | randomised | learnable | summary | page |",
            "|---|---|---|---|---|---|---|---|"]
    yes = {True: "yes", False: ""}
    for info in mtlkit.list_aggregators():
        p = info.properties
        page = page_of(info.name)
        link = f"[{page.removesuffix('.md')}]({page})" if page else ""
        origin = "" if info.origin == "built-in" else f" (plugin {info.origin})"
        rows.append(f"| `{info.name}`{origin} | {p.kind} | {yes[p.non_conflicting]} | {yes[p.stateful]} | "
                    f"{yes[p.randomised]} | {yes[p.learnable]} | {info.summary.replace('|', '/')} | {link} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
