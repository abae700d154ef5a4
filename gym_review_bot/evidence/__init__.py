"""Reward-profiling and training evidence: read it (streamed, capped), compute its numbers, draw it."""
