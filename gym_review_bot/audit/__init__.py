"""The registry audit: every server of a checkout re-verified, resumable, sharded, with a health dashboard."""
