"""Scheduled notebook jobs: schedules (``config/schedules.toml``), a PostgreSQL-backed queue,
workers that execute notebooks with papermill, and the scheduler that enqueues due runs.

Every run keeps its executed notebook (and an HTML rendering) as the record of what ran; a
failed cell leaves the notebook with papermill's error banner and the cell marked.
"""
