"""Fine-tuning one grid cell: model and tokenizer loading, features and batching, the measured Trainer,
the loss, and the one measurement module. The report never imports this package; it reads records."""
