"""User-facing errors: one line that names the file, row or key, never a traceback."""


class SumbenchError(Exception):
    """An error caused by the user's input. The CLI prints ``sumbench: <message>`` and exits 2."""


class DataError(SumbenchError):
    """A CSV or corpus problem; the message starts with ``FILE:ROW:``."""


class ConfigError(SumbenchError):
    """A config or model-YAML problem; the message names the file and key."""
