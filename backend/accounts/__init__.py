"""Accounts: sign-in, tokens, activation codes, password reset, roles and grants."""
