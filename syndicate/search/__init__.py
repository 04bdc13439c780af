"""Full-text search over the articles with German linguistics.

``german`` turns text into index terms and a user's words into a safe query (no user syntax ever
reaches FTS5 or tsquery); ``index`` keeps the SQLite index in step and runs a search on either
database, ranked by relevance with recency as tie-break; ``snippet`` marks the hits in a passage.
"""
