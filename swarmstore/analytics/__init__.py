"""Analyses over stored records; pure functions of plain data (no store access)."""

from swarmstore.analytics.convergence import ConvergenceRules, analyze_convergence

__all__ = ["ConvergenceRules", "analyze_convergence"]
