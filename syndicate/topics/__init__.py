"""Topics: ``rules`` assigns articles to topics (categories and keyword rules); ``keywords`` matches German word forms."""
