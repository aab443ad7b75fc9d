"""Orchestration used by both the API and the CLI."""
