"""Analyses over stored records.

``convergence`` is a pure function of a training history; ``lifecycle``,
``model_analytics`` and ``compare`` compute over what the named query
functions of ``analytics.queries`` read through a session they are given (the
facade opens it); ``query`` holds a query's result and ``arrow`` turns its
rows into ``pyarrow`` tables.
"""

from swarmstore.analytics.convergence import ConvergenceRules, analyze_convergence

__all__ = ["ConvergenceRules", "analyze_convergence"]
