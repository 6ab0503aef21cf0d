"""Mail protocols and formats, with no Flask and no database: IMAP, SMTP, MIME, addresses."""
