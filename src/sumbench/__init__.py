"""sumbench: benchmark Korean dialogue summarizers over a batch size x gradient accumulation grid."""

__version__ = "0.1.0"
