"""Administrators' pages: users, police units, the audit log (units, outbox and roster come with their issues)."""
