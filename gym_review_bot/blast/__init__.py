"""Core-change blast radius: the servers a change to shared code reaches, and a bounded sample of them."""

DEFAULT_AUDIT_TIMEOUT_S = 3600.0  # `check --audit-timeout`: no sampled server's review starts after this
BLAST_JOB_NOTE = "Only the blast radius's"  # a blast job's note (merge-reports leaves it out of the joined report)
