"""Use cases. Each takes its side effects (unit of work, clock, sender) as arguments."""
