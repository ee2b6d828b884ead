"""Training and demo mode: synthetic data (``seed.py``) and ``flask demo seed|reset`` (``cli.py``)."""
