"""The load-benchmark harness (run.py) and what it needs on the server side (floor.py, serve.py,
and the settings and URLs that mount the floor: settings.py, urls.py).

Roster itself imports nothing from here (tests/test_boundaries.py): the benchmark extends the
product's settings and URLs, never the other way round.
"""
