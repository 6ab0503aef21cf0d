"""Storage of what the sync fetched, one module per responsibility (no Flask anywhere here).

- batch: what a batch is (ToStore, ToSkip, BatchPlace, BatchResult).
- commit: `commit_batch`, the commit rule: a batch and its cursor move in one transaction.
- emails: the Email row (the one builder, also used by smart emails), sightings, lead links.
- threads: thread keys a batch refers to, and the merges of threads stored out of order.
- leads: the leads a batch links to, creating new ones; their email summaries.
- ledger: the skip ledger and retroactive linking ("no lead" skips flagged for relink).
- notifications: a rep is told when a lead answers a smart email.
- cursors: where each folder's sync stands. lease: one syncer per mailbox.
"""
