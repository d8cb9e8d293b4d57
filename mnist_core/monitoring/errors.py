"""The one error type of the monitoring package: bad field input, explained in a sentence for the user."""

from __future__ import annotations


class MonitorError(ValueError):
    """Field data that cannot be monitored (empty, unreadable, mislabelled); the message is for the user."""
