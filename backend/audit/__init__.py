"""Audit: who did what to which object, when and from where; who read personal data."""
