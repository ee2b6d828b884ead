"""Shared plumbing, not features: the REST set-up, shared schema fields, the transaction boundary,
upload spools and byte sniffing, rate-limit storage, logs, and database column types."""
