"""Where raw events live: DuckDB (files, a database file, DataFrames), PostgreSQL, Spark.

What belongs here: :func:`connect`, which opens a raw source as an ibis backend plus the two
tables the ``data:`` section names (the event log and the user-month table), with errors that
name the table or column and suggest the closest one; and :func:`copy_to_postgres`, which loads
a generated folder into PostgreSQL. What does not: the aggregation (see :mod:`kpitree.io.events`).

Nothing is read into Python here: DuckDB scans CSV/Parquet globs and DataFrames in place,
PostgreSQL and Spark run the query where the data is. ibis, DuckDB, psycopg and pyspark are
imported only when a source is opened, through :func:`kpitree.core.optional.require`, so a
missing one is a one-line install hint.
"""

from __future__ import annotations

import glob as globbing
import importlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kpitree.core.errors import DataError, KpitreeError, did_you_mean, listing
from kpitree.core.optional import require
from kpitree.core.safety import redact_url, redact_urls

FILE_SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz")
DUCKDB_SUFFIXES = (".duckdb", ".ddb", ".db")
ENGINES = ("duckdb", "postgres", "spark")
RAW_SOURCES = "raw event sources"  # what ibis and DuckDB are needed for, in the install hint


class SourceError(DataError):
    """A raw source cannot be opened: missing file, unknown table, unknown engine or scheme."""


@dataclass
class Source:
    """An open raw source: an ibis backend and how to find the events and users tables.

    ``tables`` maps a logical name (``events``, ``users``) to what replaces the tree's table
    name: a table name in the database, or a registered view over files or a DataFrame.
    """

    backend: Any
    engine: str
    name: str
    tables: dict[str, str] = field(default_factory=dict)
    spark: Any = None
    parquet: dict[str, list[str]] = field(default_factory=dict)  # role → its Parquet files

    def null_count(self, role: str, column: str) -> int | None:
        """NULLs in ``column`` of the ``role`` table, from the Parquet files' footers.

        Exact and free (no scan): every row group's statistics count its NULLs. None when the
        table is not Parquet files read by DuckDB, or a row group has no statistics — then the
        caller counts with a query.
        """
        files = self.parquet.get(role)
        if not files or self.engine != "duckdb":
            return None
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        try:
            rows = self.backend.con.execute(
                f"SELECT count(*), count(stats_null_count), sum(stats_null_count) "
                f"FROM parquet_metadata([{listed}]) WHERE path_in_schema = ?", [column]
            ).fetchall()
        except Exception:  # no metadata function (old DuckDB): count with a query instead
            return None
        groups, with_stats, nulls = rows[0]
        if not groups or groups != with_stats:
            return None
        return int(nulls or 0)

    def close(self) -> None:
        """Close the engine connection (a Spark session passed in stays the caller's)."""
        if self.engine != "spark":
            disconnect = getattr(self.backend, "disconnect", None)
            if disconnect is not None:
                disconnect()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def table(self, role: str, default: str) -> Any:
        """The ibis table for ``role`` (``events``/``users``); ``default`` is the tree's name.

        Raises:
            SourceError: the table does not exist (with the closest name and those present).
        """
        name = self.tables.get(role, default)
        present = self.list_tables()
        if name not in present:
            raise SourceError(
                f"{self.name}: no table '{name}' for the {role}.{did_you_mean(name, present)} "
                f"Tables present: {listing(present)} (set data.{role}.table in the tree, or "
                f"--{role} on the command line)"
            )
        return self.backend.table(name)

    def list_tables(self) -> list[str]:
        return sorted(self.backend.list_tables())

    def native_type(self, table: Any, column: str) -> str:
        """The engine's own type name of a column (Spark: to tell TIMESTAMP from _NTZ)."""
        if self.engine == "spark" and self.spark is not None:
            schema = self.spark.table(table.get_name()).schema
            return type(schema[column].dataType).__name__
        return str(table.schema()[column])


def _files(pattern: str) -> list[str]:
    path = Path(pattern)
    if path.is_dir():
        return sorted(str(p) for p in path.iterdir() if p.name.endswith(FILE_SUFFIXES))
    return sorted(globbing.glob(pattern))


def _matched(value: object, role: str) -> tuple[list[str], str]:
    """The files a path or glob names for ``role`` (events, users) and their kind (parquet,
    csv); none is an error naming the path."""
    files = _files(str(value))
    if not files:
        raise SourceError(f"{value}: no files match (the {role}); check the path or glob")
    return files, _file_kind(files, str(value))


def _file_kind(files: list[str], pattern: str) -> str:
    kinds = {"csv" if f.endswith((".csv", ".csv.gz")) else "parquet" for f in files}
    if len(kinds) != 1 or not all(f.endswith(FILE_SUFFIXES) for f in files):
        raise SourceError(f"{pattern}: mixes file types or matches files that are not "
                          ".parquet or .csv; point it at one kind of file")
    return kinds.pop()


def _folder_tables(folder: Path) -> dict[str, str]:
    """``events``/``users`` file globs inside a folder written by ``kpitree generate``."""
    found: dict[str, str] = {}
    for role in ("events", "users"):
        for candidate in (folder / role, *sorted(folder.glob(f"{role}*"))):
            files = _files(str(candidate))
            if candidate.is_file() and str(candidate).endswith(FILE_SUFFIXES):
                files = [str(candidate)]
            if files:
                found[role] = str(candidate)
                break
    return found


def connect(
    data: str | Path | None = None,
    *,
    events: Any = None,
    users: Any = None,
    engine: str | None = None,
    spark: Any = None,
    master: str | None = None,
) -> Source:
    """Open a raw source.

    Args:
        data: a folder holding ``events/`` and ``users/`` files (what ``kpitree generate``
            writes), a DuckDB database file, or a database URL (``postgresql://…``).
            May be omitted when ``events`` and ``users`` are given.
        events, users: each a CSV/Parquet file, folder or glob, a pandas DataFrame, or — with a
            database or Spark — a table name (overrides the tree's ``data.*.table``).
        engine: ``duckdb`` (default for files and DataFrames), ``spark`` (files read by a
            Spark session: ``spark`` or ``master`` given, else a local one), or the name of
            another ibis backend (``polars``, ``sqlite``, …), which is attempted: the files
            are registered with it and the same query runs there (its result is the same to
            the cent wherever the backend supports the query; an unsupported operation is a
            one-line error). Implied by a URL or a DuckDB file.
        spark: an existing SparkSession (its time zone is set to UTC).
        master: a Spark master URL (``spark://host:7077``, ``local[4]``, ``yarn``): a session
            is started there (implies ``engine="spark"``).

    Raises:
        SourceError: a missing file, an unknown scheme or engine, a file that cannot be read.
        MissingExtraError: the engine's library (ibis, DuckDB, psycopg, pyspark) is not
            installed; the message names the extra to install.

    Example:
        >>> source = connect("out/events_10m")  # doctest: +SKIP
        >>> source = connect("postgresql://me@localhost/shop")  # doctest: +SKIP
    """
    if spark is not None or master is not None:
        engine = "spark"
    text = None if data is None else str(data)
    if engine == "postgres":
        raise SourceError("--engine postgres: give the database as a postgresql://… URL")
    if text is not None and text.startswith(("postgres://", "postgresql://")):
        return _postgres(text, events, users)
    if text is not None and text.endswith(DUCKDB_SUFFIXES):
        return _duckdb_file(text, events, users)
    if text is not None and "://" in text:
        return _ibis_url(text, events, users)
    roles: dict[str, Any] = {"events": events, "users": users}
    if text is not None:
        folder = Path(text)
        if not folder.is_dir():
            raise SourceError(f"{text}: not found (expected a folder with events/ and users/ "
                              "files, a DuckDB file or a database URL)")
        found = _folder_tables(folder)
        for role in roles:
            if roles[role] is None:
                if role not in found:
                    raise SourceError(f"{text}: no {role} files in this folder (expected "
                                      f"{role}/*.parquet or {role}*.csv); pass --{role} GLOB")
                roles[role] = found[role]
    for role, value in roles.items():
        if value is None:
            raise SourceError(f"no {role} given: pass a folder, or both events and users")
    if engine == "spark":
        return _spark_files(roles, spark if spark is not None else spark_session(
            master or "local[2]"), text or "files")
    if engine is not None and engine != "duckdb":
        return _other_files(roles, engine, text or "files")
    return _duckdb_files(roles, text or "files")


def _backend(name: str) -> Any:
    """ibis's ``name`` backend, imported directly.

    ``ibis.duckdb`` finds its backend through the installed packages' entry points, which
    reads the metadata of every installed distribution (0.3 s on a full environment, paid by
    every command); the backend's module is where that lookup ends anyway.
    """
    require("ibis", purpose=RAW_SOURCES)
    module = importlib.import_module(f"ibis.backends.{name}")
    return module.Backend()


def _quiet(backend: Any) -> Any:
    """DuckDB tracks query progress for kpitree's indicator but never prints its own bar."""
    backend.con.execute("SET enable_progress_bar = true")
    backend.con.execute("SET enable_progress_bar_print = false")
    return backend


def _duckdb_files(roles: dict[str, Any], name: str) -> Source:
    require("ibis", purpose=RAW_SOURCES)
    require("duckdb", purpose=RAW_SOURCES)
    backend = _quiet(_backend("duckdb").connect())
    tables: dict[str, str] = {}
    parquet: dict[str, list[str]] = {}
    for role, value in roles.items():
        view = f"kpitree_{role}"
        if isinstance(value, pd.DataFrame):
            backend.con.register(view, value)  # scanned in place, not copied
        else:
            files, kind = _matched(value, role)
            try:
                if kind == "parquet":
                    backend.read_parquet(files, table_name=view)
                    parquet[role] = files
                else:
                    backend.read_csv(files, table_name=view)
            except Exception as exc:
                raise SourceError(f"{value}: cannot be read as {kind}: "
                                  f"{str(exc).splitlines()[0]}") from None
        tables[role] = view
    return Source(backend, "duckdb", name, tables, parquet=parquet)


def _duckdb_file(path: str, events: Any, users: Any) -> Source:
    require("ibis", purpose=RAW_SOURCES)
    require("duckdb", purpose=RAW_SOURCES)
    if not Path(path).is_file():
        raise SourceError(f"{path}: DuckDB database file not found")
    try:
        backend = _quiet(_backend("duckdb").connect(path, read_only=True))
    except Exception as exc:
        raise SourceError(f"{path}: cannot be opened with DuckDB: "
                          f"{str(exc).splitlines()[0]}") from None
    tables = {k: str(v) for k, v in (("events", events), ("users", users)) if v is not None}
    return Source(backend, "duckdb", path, tables)


def _other_backend(engine: str) -> Any:
    """The ibis backend module named ``engine``, or a one-line error naming what to install."""
    ibis = require("ibis", purpose=RAW_SOURCES)
    try:
        return getattr(ibis, engine)
    except ImportError:
        raise SourceError(f"--engine {engine}: ibis's {engine} backend is not installed: "
                          f"pip install 'ibis-framework[{engine}]'") from None
    except AttributeError:
        raise SourceError(f"--engine {engine}: not an ibis backend "
                          f"(e.g. {', '.join(ENGINES)}, polars, sqlite, datafusion)") from None


def _other_files(roles: dict[str, Any], engine: str, name: str) -> Source:
    """Files or DataFrames registered with another ibis backend (attempted, not promised)."""
    backend = _other_backend(engine).connect()
    tables: dict[str, str] = {}
    for role, value in roles.items():
        view = f"kpitree_{role}"
        try:
            if isinstance(value, pd.DataFrame):
                backend.create_table(view, value)
            else:
                files, kind = _matched(value, role)
                reader = getattr(backend, f"read_{kind}", None)
                if reader is not None:
                    reader(files if len(files) > 1 else files[0], table_name=view)
                else:  # a backend without file readers gets the rows as one Arrow table
                    import pyarrow.dataset as ds

                    data = ds.dataset(files, format=kind).to_table()
                    backend.create_table(view, data)
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(f"{value}: the {engine} backend cannot read it: "
                              f"{str(exc).strip().splitlines()[0]}") from None
        tables[role] = view
    return Source(backend, engine, name, tables)


def _ibis_url(url: str, events: Any, users: Any) -> Source:
    """A database URL of another ibis backend (``mysql://…``, ``sqlite:///…``), attempted."""
    ibis = require("ibis", purpose=RAW_SOURCES)
    scheme = url.split("://", 1)[0]
    try:
        backend = ibis.connect(url)
    except Exception as exc:
        raise SourceError(f"{_safe(url)}: cannot open '{scheme}://' through ibis "
                          f"({redact_urls(_first_line(exc))}); use postgresql://…, a DuckDB "
                          "file, or Parquet/CSV files") from None
    tables = {k: str(v) for k, v in (("events", events), ("users", users)) if v is not None}
    return Source(backend, getattr(backend, "name", scheme), _safe(url), tables)


def _postgres(url: str, events: Any, users: Any) -> Source:
    ibis = require("ibis", purpose=RAW_SOURCES)
    require("psycopg", purpose="PostgreSQL sources")
    try:
        backend = ibis.connect(url)
    except Exception as exc:
        raise SourceError(f"{_safe(url)}: cannot connect to PostgreSQL: "
                          f"{redact_urls(_first_line(exc))}") from None
    tables = {k: str(v) for k, v in (("events", events), ("users", users)) if v is not None}
    return Source(backend, "postgres", _safe(url), tables)


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message (drivers' messages run over several)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _safe(url: str) -> str:
    """A URL without its password or secret query parameters, for messages
    (:func:`kpitree.core.safety.redact_url`)."""
    return redact_url(url)


def spark_session(master: str = "local[2]") -> Any:
    """A local Spark session set up for kpitree (UTC, no UI, few shuffle partitions)."""
    sql = require("pyspark.sql", purpose="Spark sources")
    return (sql.SparkSession.builder.master(master).appName("kpitree")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.driver.memory", "2g")
            .getOrCreate())


def _spark_files(roles: dict[str, Any], spark: Any, name: str) -> Source:
    require("ibis", purpose=RAW_SOURCES)
    session = spark
    session.conf.set("spark.sql.session.timeZone", "UTC")
    backend = _backend("pyspark").connect(session)
    tables: dict[str, str] = {}
    present = set(backend.list_tables())
    for role, value in roles.items():
        if isinstance(value, str) and value in present:
            tables[role] = value
            continue
        if "://" in str(value):  # cluster storage (hdfs://, s3a://, …): Spark lists it
            files = [str(value)]
            kind = "csv" if str(value).rstrip("/*").endswith((".csv", ".csv.gz")) else "parquet"
        else:
            files, kind = _matched(value, role)
        view = f"kpitree_{role}"
        reader = session.read
        frame = (reader.parquet(*files) if kind == "parquet"
                 else reader.csv(files, header=True, inferSchema=True))
        frame.createOrReplaceTempView(view)
        tables[role] = view
    return Source(backend, "spark", name, tables, spark=session)


def copy_to_postgres(folder: str | Path, url: str, *, schema: str = "public") -> None:
    """Load a ``kpitree generate`` folder into PostgreSQL tables ``events`` and ``users``.

    Types are kept exact: BIGINT cents, TIMESTAMPTZ, DATE, TEXT. Existing tables of those names
    in ``schema`` are replaced. Used by the tests and the benchmark.
    """
    psycopg = require("psycopg", purpose="PostgreSQL sources")
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    ddl = {
        "users": "user_id BIGINT, month DATE, tier TEXT, region TEXT, channel TEXT, "
                 "signup_date DATE, account_id BIGINT, seats BIGINT, logins BIGINT",
        "events": "event_id BIGINT, user_id BIGINT, ts TIMESTAMPTZ, type TEXT, kind TEXT, "
                  "status TEXT, amount_cents BIGINT, discount_cents BIGINT, currency TEXT",
    }
    with psycopg.connect(url, autocommit=True) as conn:
        for table, columns in ddl.items():
            conn.execute(f'DROP TABLE IF EXISTS "{schema}"."{table}"')
            conn.execute(f'CREATE TABLE "{schema}"."{table}" ({columns})')
            for path in sorted((Path(folder) / table).glob("*.parquet")):
                parquet = pq.ParquetFile(path)
                for batch in parquet.iter_batches(batch_size=500_000):
                    plain = pa.table({name: (col.dictionary_decode()
                                             if pa.types.is_dictionary(col.type) else col)
                                      for name, col in zip(batch.schema.names, batch.columns,
                                                           strict=True)})
                    buffer = io.BytesIO()
                    pacsv.write_csv(plain, buffer,
                                    pacsv.WriteOptions(include_header=False))
                    with conn.cursor().copy(
                        f'COPY "{schema}"."{table}" FROM STDIN WITH (FORMAT csv)'
                    ) as copy:
                        copy.write(buffer.getvalue())
            conn.execute(f'ANALYZE "{schema}"."{table}"')


__all__ = ["ENGINES", "KpitreeError", "Source", "SourceError", "connect", "copy_to_postgres",
           "spark_session"]
