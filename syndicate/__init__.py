"""syndicate: poll municipal newsrooms, deduplicate, republish merged feeds."""

__version__ = "0.1.0"
