"""Dialogue data: competition-layout CSVs (``corpus``), a synthetic Korean corpus (``synth``), seeded k-fold
splits and caps (``split``), augmentation (``augment``), the one path to a cell's training set (``trainset``), and
that set's statistics (``stats``)."""
