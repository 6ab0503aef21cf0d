"""Smart emails: compose, send through the rep's own SMTP server, track opens and clicks.

`smtp_client` is the only importer of smtplib, `compose` builds messages from plain values
and `tracking` signs the pixel and link tokens; none of the three knows Flask or the
database. `service` ties them to the tables and runs deliveries on a small thread pool.
"""
