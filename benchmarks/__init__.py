"""The load-benchmark harness (run.py) and what it needs on the server side (floor.py, serve.py).

Nothing here is imported by Roster itself, except ``benchmarks.floor`` under
``directory.settings_benchmark``.
"""
