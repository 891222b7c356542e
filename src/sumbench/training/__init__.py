"""Fine-tuning one grid cell. ``cell`` reads top to bottom (load, featurize, train, evaluate, write); ``models``
loads the model and tokenizer, ``features`` and ``batching`` make the batches, ``trainer`` is the Trainer with
sumbench's loss, ``measure`` the one measurement module; ``warmstart`` pre-trains tiny twins and ``faults``
injects failures for tests. The report never imports this package; it reads records."""
