"""Agreement as a quality gate: statistics (``qa.agreement``), diagnostics, gate, aggregation and reports.

The statistics are pure numpy/pandas and import nothing of ours but ``backend.domain``.
"""
