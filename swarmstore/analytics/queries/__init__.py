"""The SQL of the analytics room (read-only).

``filters`` compiles the filter language, ``targets`` and ``training`` declare
what can be queried, ``run`` executes one query, ``schema`` types the labelled
SQL columns for Arrow, and ``models`` holds the aggregates and lookups behind
lifecycle stats, model analytics and comparisons.
"""
