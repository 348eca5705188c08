"""Experiment tracking: stored experiments, streaming runs, metric history (issue 4)."""

from swarmstore.tracking.points import MetricHistory, MetricPoint
from swarmstore.tracking.run import ExperimentRun
from swarmstore.tracking.service import ExperimentService

__all__ = ["ExperimentRun", "ExperimentService", "MetricHistory", "MetricPoint"]
