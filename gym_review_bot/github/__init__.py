"""GitHub: the sticky comment, statuses, labels, chat-ops, the merge gate and triage (the only GitHub caller).

Importing this package does not import PyGithub; the modules that talk to GitHub do, and only the
commands that need them load those modules.
"""
