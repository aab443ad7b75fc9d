"""Queries and upserts, one module per aggregate."""
