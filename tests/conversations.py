"""Conversations the tests of several tiers play through the reply limiter."""

# A person's busiest fifteen messages: consent, questions, schedule changes, a session moved,
# done (asked again, then recorded), skipped, a pause and back, and a skin reaction. Sent in
# two minutes, every one of them gets a reply.
JOURNEY = [
    "YES",
    "NEXT",
    "HELP",
    "TIME 19:30",
    "EVERY 21",
    "LATER",
    "NEXT",
    "DONE",
    "DONE",
    "SKIP",
    "PAUSE",
    "RESUME",
    "NEXT",
    "my skin is red",
    "RESUME",
]
