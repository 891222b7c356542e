"""Dialogue data: competition-layout CSVs, a synthetic Korean corpus, and k-fold splits."""

from sumbench.data.corpus import PII_MASKS, SPECIAL_TOKEN_RE, Example, check_file, load_csv, speaker_tags, write_csv
from sumbench.data.split import cap, kfold, write_folds
from sumbench.data.synth import synthesize, write_corpus

__all__ = [
    "PII_MASKS",
    "SPECIAL_TOKEN_RE",
    "Example",
    "cap",
    "check_file",
    "kfold",
    "load_csv",
    "speaker_tags",
    "synthesize",
    "write_corpus",
    "write_csv",
    "write_folds",
]
