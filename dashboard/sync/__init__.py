"""Mail sync: IMAP client, parser, rules, storage, engine and scheduler."""
