"""Mailboxes: connecting a rep's mailbox, its sync status and history."""
