"""The checks, one module per family, each with its `CHECKS`; catalogue.py lists them all as one."""
