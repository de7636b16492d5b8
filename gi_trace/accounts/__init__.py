"""Accounts: users, login, API tokens."""
