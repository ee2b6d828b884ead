"""The append-only, hash-chained audit log of what staff do, and its verifier."""
