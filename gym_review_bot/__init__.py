"""gym-review-bot: reviews NeMo Gym pull requests that add resource servers."""

__version__ = "0.1.0"
