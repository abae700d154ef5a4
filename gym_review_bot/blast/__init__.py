"""Core-change blast radius: the servers a change to shared code reaches, and a bounded sample of them."""
