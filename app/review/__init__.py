"""Staff review pages: the triage inbox (the review workflow issue grows it: detail, actions, transfers)."""
