"""Leads: list, search, lead page and timeline, editing, review queue, and who may read what."""
