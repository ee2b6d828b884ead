"""Training and demo mode: synthetic data (``seed.py``), the demo accounts and their stable credentials
(``accounts.py``), the snapshot a reset puts back (``snapshot.py``), the reset and its job (``reset.py``), the
trainer's pages (``routes.py``, ``sheet.py``) and ``flask demo seed|reset`` (``cli.py``)."""
