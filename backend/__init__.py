"""Parta backend: the school system's domain, storage and HTTP API."""
