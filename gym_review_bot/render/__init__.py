"""Turn a report and its judgement into text: the PR comment (markdown.py), the terminal (terminal.py),
with shared wording and icons (words.py), links and cells (layout.py), escaping (safety.py), size (fit.py).

Import the module you need; this package itself loads nothing heavy (Jinja2 and rich load with them).
"""
