"""Getting data in: raw event logs on DuckDB, PostgreSQL and Spark, and the synthetic generator.

What belongs here: connecting to sources, turning an event log into the period × segment sums
that the core explains (the tree file's ``data:`` section), and generating example data. Database
engines are optional extras, imported only when a source is opened. What does not: attribution
or presentation; aggregated CSV/Parquet tables are read by :mod:`kpitree.core.data`.
"""
