"""Per-model containers: the Docker images (``images.py``) and where a train job runs (``jobs.py``)."""
