"""Training-data augmentation: registered methods selected by name; ``+`` combines them.

    sumbench data augment --data results/quick_aug/data/folds --fold 0 --augmentation speaker_swap+synonym \\
        --max-train-samples 100 --settings '{"ratio": 0.5}' --seed 42 --out /tmp/aug   # -> train.csv, augment.json

Only the training part of a fold is touched, in this order: the ``max_train_samples`` cap picks the original
examples first; then each method adds ``round(ratio × originals)`` copies of its own, so
``speaker_swap+synonym`` at ratio 0.5 trains on 100 originals + 50 swapped + 50 synonym copies
(:mod:`sumbench.data.trainset` does both steps, for the workflow's ``augment`` rule and for ``sumbench train``).

Its settings are :class:`sumbench.config.augment.AugmentSettings` (a grid's ``augment:`` section). Modules, in
reading order:

- ``registry``: the :class:`Augmenter` base class, ``register`` and ``parse_augmentation``, dialogue turns.
- ``rules``: ``speaker_swap`` (swap #Person1#/#Person2#, re-fit particles) and ``turn_shuffle`` (swap two
  adjacent question/answer exchanges).
- ``synonym``: morpheme-aware synonym replacement (kiwipiepy) from the shipped lexicon.
- ``generative``: ``back_translation`` and ``paraphrase`` through a configured seq2seq model.
- ``driver``: :func:`augment_examples` (quotas, seeds, and the guard that no copy changes a tag or a mask).
"""

from sumbench.data.augment.registry import (REGISTRY, Augmenter, augmentation_label, check_settings,
                                            parse_augmentation, register, split_fname)
from sumbench.data.augment import generative, rules, synonym  # noqa: F401  (registers the methods)
from sumbench.data.augment.driver import augment_examples

__all__ = [
    "REGISTRY",
    "Augmenter",
    "augment_examples",
    "augmentation_label",
    "check_settings",
    "parse_augmentation",
    "register",
    "split_fname",
]
