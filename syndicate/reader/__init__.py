"""The feed pipeline stages: values in, values out. No database, no Celery, no settings."""
