"""Field encryption: the keyring file, per-report data keys (envelope), the AEAD field cipher
(AES-256-GCM or SM4-GCM), blind indexes, and the ``flask keys`` commands."""
