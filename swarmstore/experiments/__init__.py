"""Experiment tracking: stored experiments, streaming runs, metric history."""

from swarmstore.experiments.points import MetricHistory, MetricPoint
from swarmstore.experiments.run import ExperimentRun
from swarmstore.experiments.service import ExperimentService

__all__ = ["ExperimentRun", "ExperimentService", "MetricHistory", "MetricPoint"]
