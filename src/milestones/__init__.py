"""Milestones: detects, stores and serves mentoring milestones."""

__version__ = "0.1.0"
