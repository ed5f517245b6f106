"""Data: the rows of the GCDance paper's ablation tables (III: music features, IV: genre classification and
multi-task strategy) and the published values known for them, each with its source.

Provenance (checked 2026-12-05). The text of Tables III and IV of GCDance (arXiv 2502.18309) could not be retrieved
offline, so their rows are reconstructed:

- Table III takes the rows of the music-feature comparison the same authors published for the model GCDance
  grew out of (DGFM, arXiv 2502.20176, Table 1: CLAP, Wav2Vec, Jukebox, Wav2CLIP, STFT, 35-D Feature Set,
  Wav2CLIP+STFT) plus MFCC, which the task description names; every row trains the full GCDance setting (Nash,
  text genre control) with only the music encoders changed.
- Table IV follows the task description: genre control off, the genre classification module (L_C) off, and the
  multi-task strategies (EDGE's fixed weights, Aligned-MTL, Nash-MTL) at the full GCDance setting.

Published values: DGFM's Table 1 (an earlier, smaller model than GCDance: shown as a reference for the music-feature
rows, never as GCDance's numbers) and GCDance's Table I row of the full model (Nash), which the ablation tables'
full-model rows are expected to repeat. Replace these when the tables themselves are at hand: only
:data:`SOURCES` and the ``published`` entries change.
"""

from __future__ import annotations

from typing import Any

#: The paper's metric columns, in the order of GCDance's Table I.
PAPER_COLUMNS = ("fid_k_hand", "fid_k_body", "div_k_hand", "div_k_body", "pfc", "pbc", "bas")

SOURCES: dict[str, dict[str, str]] = {
    "gcdance-table-1": {
        "cite": "GCDance (Liu et al., arXiv 2502.18309), Table I, FineDance: the full model (Nash)",
        "note": "the main comparison table; the ablation tables' full-model row is expected to repeat it",
    },
    "dgfm-table-1": {
        "cite": "DGFM (Liu et al., arXiv 2502.20176, NeurIPS 2024 Audio Imagination workshop), Table 1, FineDance",
        "note": "the same authors' earlier music+text diffusion model (no hand decoder split, no MTL): a reference "
                "for the music-feature rows, not GCDance's numbers",
    },
}

_NASH_TEXT = {"aggregator": "nash", "genre_controller": "text"}
_GCDANCE_T1 = {"source": "gcdance-table-1", "values": {
    "fid_k_hand": 17.69, "fid_k_body": 22.90, "div_k_hand": 9.47, "div_k_body": 6.39, "pfc": 0.13, "pbc": 4.71,
    "bas": 0.2238}}


def _dgfm(fid_hand: float, fid_body: float, div_body: float, div_hand: float, pfc: float, bas: float) -> dict:
    """A DGFM Table 1 row (its column order: FID hand, FID body, Div body, Div hand, PFC, BAS)."""
    return {"source": "dgfm-table-1", "values": {"fid_k_hand": fid_hand, "fid_k_body": fid_body,
                                                 "div_k_body": div_body, "div_k_hand": div_hand, "pfc": pfc,
                                                 "bas": bas}}


TABLES: dict[str, dict[str, Any]] = {
    "III": {
        "title": "Table III: music features",
        "rows_from": "DGFM Table 1's rows + MFCC (GCDance's Table III text was not reachable offline)",
        "rows": [
            {"key": "clap", "label": "CLAP", "music_encoders": "clap", **_NASH_TEXT,
             "published": [_dgfm(36.316, 65.781, 6.626, 8.071, 0.369, 0.2256)]},
            {"key": "wav2vec", "label": "Wav2Vec", "music_encoders": "wav2vec2", **_NASH_TEXT,
             "published": [_dgfm(35.493, 30.601, 6.508, 7.257, 0.241, 0.2226)]},
            {"key": "jukebox", "label": "Jukebox", "music_encoders": "jukebox", **_NASH_TEXT,
             "published": [_dgfm(38.578, 53.336, 5.687, 7.453, 0.223, 0.2161)]},
            {"key": "wav2clip", "label": "Wav2CLIP", "music_encoders": "wav2clip", **_NASH_TEXT,
             "published": [_dgfm(27.212, 30.539, 6.683, 7.396, 0.171, 0.2283)]},
            {"key": "stft", "label": "STFT", "music_encoders": "stft", **_NASH_TEXT,
             "published": [_dgfm(18.497, 26.522, 7.513, 8.562, 0.246, 0.2201)]},
            {"key": "mfcc", "label": "MFCC", "music_encoders": "mfcc", **_NASH_TEXT, "published": []},
            {"key": "35d", "label": "35-D Feature Set", "music_encoders": "baseline35", **_NASH_TEXT,
             "published": [_dgfm(21.681, 27.092, 7.458, 8.022, 0.262, 0.2156)]},
            {"key": "wav2clip+stft", "label": "Wav2CLIP+STFT (GCDance)", "music_encoders": "wav2clip,stft",
             **_NASH_TEXT, "published": [_GCDANCE_T1, _dgfm(17.871, 25.1752, 7.758, 8.2543, 0.209, 0.2218)]},
        ],
    },
    "IV": {
        "title": "Table IV: genre classification module and multi-task strategy",
        "rows_from": "the task description (GCDance's Table IV text was not reachable offline)",
        "rows": [
            {"key": "no-genre", "label": "w/o genre control", "music_encoders": "wav2clip,stft",
             "aggregator": "nash", "genre_controller": "none", "published": []},
            {"key": "no-cls", "label": "w/o genre classification", "music_encoders": "wav2clip,stft",
             "aggregator": "nash", "genre_controller": "label", "published": []},
            {"key": "fixed", "label": "Fixed weights (EDGE)", "music_encoders": "wav2clip,stft",
             "aggregator": "linear", "genre_controller": "text", "published": []},
            {"key": "aligned", "label": "Aligned-MTL", "music_encoders": "wav2clip,stft",
             "aggregator": "aligned", "genre_controller": "text", "published": []},
            {"key": "nash", "label": "Nash-MTL (GCDance)", "music_encoders": "wav2clip,stft",
             "aggregator": "nash", "genre_controller": "text", "published": [_GCDANCE_T1]},
        ],
    },
}
