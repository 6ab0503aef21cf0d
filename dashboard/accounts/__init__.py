"""Accounts: users, roles, login, company settings, audit."""
