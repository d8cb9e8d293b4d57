"""The offline stakeholder report."""
