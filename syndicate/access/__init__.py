"""Access: API tokens (a city's or an operator's) and the audit log of what each token changed."""
