"""Presentation: what a task looks like. ``facts`` computes a task's facts once; records
(text and HTML), the live view's state, the sweep grid, the report, compare tables and plots
are drawings of them. ``display`` and ``headless`` decide where and how a task shows."""
