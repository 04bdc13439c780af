"""Ingest: the one refresh pipeline (fetch → parse → normalise → store → schedule) and what paces it.

``refresh`` runs the stages top to bottom; ``due`` picks and leases the sources whose check is due;
``schedule`` and ``politeness`` decide when and how often a host is asked; ``moves`` follows permanent redirects.
"""
