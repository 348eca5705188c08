"""Analyses over stored records.

``convergence`` is a pure function of a training history; ``lifecycle``,
``model_analytics``, ``compare`` and ``query`` read the SQL store through a
session they are given (the facade opens it), and ``arrow`` turns query rows
into ``pyarrow`` tables.
"""

from swarmstore.analytics.convergence import ConvergenceRules, analyze_convergence

__all__ = ["ConvergenceRules", "analyze_convergence"]
