"""Emails as read in the dashboard: safe bodies and attachments."""
