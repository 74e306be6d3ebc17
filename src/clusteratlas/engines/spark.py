"""Cluster mapping on Apache Spark: read, check, map and write without leaving the cluster.

``clusteratlas map --engine spark`` runs the same Narwhals expressions as the
DuckDB engine (:func:`clusteratlas.metrics.map_clusters`) on PySpark
DataFrames. Only the edges differ:

* input: any path Spark reads (local, ``hdfs://``, ``s3a://`` through the
  cluster's own configuration), Parquet or CSV, checked with the rules of
  ``clusteratlas import`` (:mod:`clusteratlas.sources.generic`) written as
  Spark column expressions (no Python UDF touches a row); an observations
  file in an official layout (``--format cbp``, ``eurostat``…) is read on
  the driver by the same reader as ``import`` and ``map --data``
  (:func:`read_official`), with the region totals it publishes;
* output: a results folder (:data:`RESULT_PARTS`), one Parquet dataset per
  table plus a one-row ``run`` dataset written last, which
  ``clusteratlas import results`` loads into an atlas
  (:mod:`clusteratlas.store.results`).

Peer-group quantiles use Spark's exact ``percentile`` (linear interpolation,
as DuckDB's ``quantile_cont``), never ``percentile_approx``, so stars and
strong clusters are identical to the DuckDB engine's.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import narwhals as nw

from clusteratlas import model
from clusteratlas.errors import ClusterAtlasError, InputError
from clusteratlas.i18n import _
from clusteratlas.metrics import Engine, MapParams
from clusteratlas.metrics.run import (
    FileMapReport,
    MapFiles,
    MapInputs,
    MapRun,
    MapSpec,
    describe_results,
    run_map,
)
from clusteratlas.reference.size_classes import SIZE_CLASS_MIDPOINTS

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

#: The datasets of a results folder, in the order they are written (``run`` last marks it complete).
RESULT_PARTS = ("clusters", "regions", "unmapped", "run")
#: Version of the results-folder layout, checked by ``import results`` (2: the ``run`` part holds the MapRun).
RESULTS_FORMAT = 2

_SPARK_TYPES = {"VARCHAR": "string", "INTEGER": "int", "DOUBLE": "double"}


def require_pyspark() -> None:
    """Fail with the install command when the optional Spark extra is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise ClusterAtlasError(_('the Spark engine needs PySpark: pip install "clusteratlas[spark]" '
                                "(and Java 17 or later)")) from exc


def session(*, memory: str | None = None, app_name: str = "clusteratlas") -> SparkSession:
    """The Spark session of this process, started if need be.

    Under ``spark-submit`` the master and resources come from the submit
    command and the cluster's configuration. A plain ``clusteratlas map
    --engine spark`` runs Spark in this process (``local[*]``), its driver
    memory capped by ``memory`` (e.g. ``4g``; the JVM default otherwise),
    and binds only to the loopback interface.
    """
    require_pyspark()
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    # Start (or join, under spark-submit) the JVM first: only then does SparkConf see the submit's --master.
    SparkContext._ensure_initialized()
    builder = SparkSession.builder.appName(app_name)
    if "spark.master" not in dict(SparkConf().getAll()):
        builder = (builder.master(os.environ.get("CLUSTERATLAS_SPARK_MASTER", "local[*]"))
                   .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                   # Enough shuffle partitions that one partition's groups fit a task's memory (at 60 M rows
                   # 8 partitions failed with AGGREGATE_OUT_OF_MEMORY at 4 and 8 GB; 64 worked); adaptive
                   # execution merges them again when the data are small.
                   .config("spark.sql.shuffle.partitions", str(max(64, 4 * (os.cpu_count() or 2))))
                   .config("spark.sql.adaptive.enabled", "true")
                   # The generated two-level aggregation map could not spill there either.
                   .config("spark.sql.codegen.aggregate.map.twolevel.enabled", "false"))
        if memory:
            builder = builder.config("spark.driver.memory", memory)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("CLUSTERATLAS_SPARK_LOG_LEVEL", "ERROR"))
    return spark


# ----------------------------------------------------------------------- input
def _reader_format(path: str) -> str:
    name = path.rstrip("/").lower()
    if name.endswith((".csv", ".csv.gz", ".csv.bz2", ".txt")):
        return "csv"
    return "parquet"


def read_table(spark: SparkSession, path: str, kind: str, *, mapping: Mapping[str, str] | None = None,
               ) -> DataFrame:
    """Read and check one input with Spark; return it with the canonical columns and types.

    Parquet (a file, a folder or a glob) or CSV with a header; columns are
    matched case-insensitively, ``mapping`` renames CANONICAL=YOURS as
    ``--map`` does. The checks are those of ``clusteratlas import``:
    required values present, numbers finite and not negative, years whole
    and in range, flags and size classes known, keys unique. One Spark job
    finds every violation; the error names the file, column and first bad
    value (Spark does not know line numbers).
    """
    from pyspark.errors import AnalysisException

    mapping = dict(mapping or {})
    fmt = _reader_format(path)
    try:
        reader = spark.read.option("header", "true") if fmt == "csv" else spark.read
        raw = reader.format(fmt).load(path)
    except AnalysisException as exc:
        raise InputError(_("Spark cannot read this input"), file=path,
                         expected=_("a {value} file or folder").format(value=fmt.upper()),
                         hint=str(exc).splitlines()[0]) from exc
    found = {c.lower(): c for c in raw.columns}
    known = {c.name for c in model.TABLES[kind]}
    for canonical in mapping:
        if canonical not in known:
            raise InputError(_("the column mapping names an unknown column"), file=path, value=canonical,
                             expected=", ".join(sorted(known)))
    from pyspark.sql import functions as F

    texts: dict[str, Column] = {}
    for col in model.TABLES[kind]:
        source = mapping.get(col.name, col.name)
        actual = found.get(source.lower())
        if actual is None:
            if col.required or col.name in mapping:
                raise InputError(_("required column '{name}' is missing").format(name=col.name), file=path,
                                 column=source,
                                 expected=", ".join(raw.columns),
                                 hint=_("Map another column to it with --map {name}=YOUR_COLUMN").format(name=col.name))
            continue
        text = F.trim(F.col(f"`{actual}`").cast("string"))
        texts[col.name] = F.when(text != "", text)
    text_frame = raw.select(*(expr.alias(name) for name, expr in texts.items()))
    _check(text_frame, kind, path)
    _check_unique(text_frame, kind, path)
    return text_frame.select(*_typed(text_frame.columns, kind))


def _typed(present: list[str], kind: str) -> list[Column]:
    """Every canonical column, typed as ``clusteratlas import`` stores them (absent optional ones null)."""
    from pyspark.sql import functions as F

    out = []
    for col in model.TABLES[kind]:
        c = F.col(col.name) if col.name in present else F.lit(None).cast("string")
        if col.name == "flag":
            expr = F.coalesce(F.lower(c), F.lit(""))
        elif col.name == "type":
            expr = F.coalesce(F.lower(c), F.lit("traded"))
        elif col.name == "size_class":
            expr = F.upper(c)
        elif col.sql_type == "INTEGER":
            expr = c.try_cast("double").cast("int")
        else:
            expr = c.try_cast(_SPARK_TYPES[col.sql_type])
        out.append(expr.alias(col.name))
    return out


def _checks(kind: str, present: set[str]) -> list[tuple[str, Column, str, str]]:
    """(column, condition true on a bad value, problem, expected) for one kind of input."""
    from pyspark.sql import functions as F

    def num(name: str) -> Column:
        return F.col(name).try_cast("double")

    def numeric(name: str, *, required: bool, allow_empty_if: Column | None = None,
                limit: model.Limit | None = None) -> list:
        if name not in present:
            return []
        c = F.col(name)
        out = []
        if required:
            empty = c.isNull() if allow_empty_if is None else c.isNull() & ~allow_empty_if
            out.append((name, empty, "value is empty", "a number"))
        out += [
            (name, c.isNotNull() & num(name).isNull(), "not a number", "a number such as 1234 or 12.5"),
            (name, F.isnan(num(name)) | (F.abs(num(name)) == float("inf")), "not a finite number",
             "a finite number"),
            (name, num(name) < 0, "negative value", "zero or more"),
        ]
        if limit is not None and limit.maximum is not None:  # worded as the DuckDB reader's check
            out.append((name, num(name) > limit.maximum, "implausibly large value",
                        f"at most {limit.maximum:,.0f} {limit.unit} in one cell ({limit.why})"))
        return out

    def required_text(name: str) -> tuple:
        return (name, F.col(name).isNull(), "value is empty", f"a {name} code")

    def ascii_code(name: str) -> tuple:
        return (name, ~F.col(name).rlike("^[ -~]*$"), "code with characters outside printable ASCII",
                "an ASCII code (import the file into an atlas to have codes normalised)")

    year = num("year") if "year" in present else None
    year_checks = [] if year is None else [
        required_text("year"),
        ("year", F.col("year").isNotNull() & (year.isNull() | (year != F.floor(year))), "not a whole year",
         "a year such as 2019"),
        ("year", (year < model.MIN_YEAR) | (year > model.MAX_YEAR), "year out of range",
         f"a year between {model.MIN_YEAR} and {model.MAX_YEAR}"),
    ]
    if kind == "observations":
        flags = [f for f in model.FLAGS if f]
        withheld = F.coalesce(F.lower(F.col("flag")) == model.FLAG_SUPPRESSED, F.lit(False)) if "flag" in present \
            else F.lit(False)
        if "size_class" in present:
            withheld = withheld | F.col("size_class").isNotNull()
        checks = [required_text("region"), required_text("industry"), ascii_code("region"), ascii_code("industry"),
                  *year_checks,
                  *numeric("employment", required=True, allow_empty_if=withheld,
                           limit=model.cell_limit("employment")),
                  *numeric("establishments", required=False, limit=model.cell_limit("establishments")),
                  *numeric("payroll", required=False, limit=model.cell_limit("payroll"))]
        if "flag" in present:
            checks.append(("flag", F.col("flag").isNotNull() & ~F.lower(F.col("flag")).isin(flags), "unknown flag",
                           f"empty or one of {', '.join(flags)}"))
        if "size_class" in present:
            checks.append(("size_class", F.col("size_class").isNotNull()
                           & ~F.upper(F.col("size_class")).isin(list(SIZE_CLASS_MIDPOINTS)),
                           "unknown employment size class", f"one of {', '.join(SIZE_CLASS_MIDPOINTS)}"))
        return checks
    if kind == "definitions":
        checks = [required_text("industry"), required_text("cluster"), ascii_code("industry")]
        if "type" in present:
            checks.append(("type", F.col("type").isNotNull() & ~F.lower(F.col("type")).isin(list(model.CLUSTER_TYPES)),
                           "unknown cluster type", "'traded' or 'local'"))
        return checks
    if kind == "reference-totals":
        return [required_text("industry"), ascii_code("industry"), *year_checks,
                *numeric("employment", required=True)]
    raise ClusterAtlasError(_("the Spark engine does not read {kind}").format(kind=kind))


def _check(frame: DataFrame, kind: str, label: str) -> None:
    """Raise the first violated check, with how many rows violate it (one Spark job for all checks)."""
    from pyspark.sql import functions as F

    checks = _checks(kind, set(frame.columns))
    aggs = []
    for i, (column, bad, _problem, _expected) in enumerate(checks):
        flagged = F.coalesce(bad, F.lit(False))
        aggs += [F.count(F.when(flagged, 1)).alias(f"n{i}"),
                 F.first(F.when(flagged, F.coalesce(F.col(column), F.lit(""))), ignorenulls=True).alias(f"v{i}")]
    row = frame.agg(*aggs).first()
    for i, (column, _bad, problem, expected) in enumerate(checks):
        if row[f"n{i}"]:
            more = f" ({row[f'n{i}']:,} rows in all)" if row[f"n{i}"] > 1 else ""
            raise InputError(_("{problem}{more}").format(problem=problem, more=more), file=label, column=column,
                             value=row[f"v{i}"], expected=expected)


def _check_unique(frame: DataFrame, kind: str, label: str) -> None:
    """The key rule of ``kind`` as the DuckDB reader applies it (:data:`clusteratlas.sources.generic.KEYS`):
    one row per key, where a kind allows it an exact repeat of a whole row (it then counts once)."""
    from pyspark.sql import functions as F

    from clusteratlas.sources.generic import EXACT_REPEATS_OK, KEYS

    key = [k for k in KEYS[kind] if k in frame.columns]
    if kind in EXACT_REPEATS_OK:
        count = F.countDistinct(*(F.coalesce(F.col(c), F.lit("")) for c in frame.columns))
    else:
        count = F.count(F.lit(1))
    dup = (frame.groupBy(*(F.coalesce(F.col(k), F.lit("")).alias(k) for k in key)).agg(count.alias("count"))
           .filter(F.col("count") > 1).limit(1).collect())
    if dup:
        shown = ", ".join(f"{k}={dup[0][k]}" for k in key)
        if kind == "definitions":
            raise InputError(_("industry {industry} is mapped to more than one "
                               "cluster").format(industry=dup[0]['industry']), file=label,
                             column="cluster", expected=_("each industry in exactly one cluster and subcluster"))
        raise InputError(_("duplicate rows for {shown} ({count} rows)").format(shown=shown, count=dup[0]['count']),
                         file=label,
                         expected=_("one row per {value}").format(value=' × '.join(key)))


def read_official(spark: SparkSession, files: MapFiles) -> tuple[DataFrame, DataFrame | None, list[str]]:
    """An observations file in an official layout (``files.file_format``: cbp, eurostat…) read on the driver by
    clusteratlas's own reader, the one ``import`` and ``map --data`` use (:func:`clusteratlas.sources.generic.stage`,
    on DuckDB: the same rows, checks and notes), handed to Spark as (observations, region totals, notes).

    The region totals (region, year, employment) are those the file publishes (a CBP file's total rows), None
    when it has none. The file is read where the driver runs (a local path or URL DuckDB reads), and its rows
    are shipped to the executors: the official files are national tables of a few million rows at most.
    """
    from clusteratlas._sql import connect
    from clusteratlas.sources.files import LINE
    from clusteratlas.sources.generic import stage

    con = connect()
    try:
        staged = stage(con, files.data, "observations", mapping=files.mapping, encoding=files.encoding,
                       file_format=files.file_format, options=files.options)
        rows = con.sql(f"SELECT * EXCLUDE ({LINE}) FROM {staged.view}").to_arrow_table()
        view = staged.extras.get("region_totals")
        totals = None if view is None else con.sql(f"SELECT region, year, employment FROM {view}").to_arrow_table()
    finally:
        con.close()
    return (spark.createDataFrame(rows), None if totals is None else spark.createDataFrame(totals),
            list(staged.notes))


# ------------------------------------------------------------------------- map
def map_with_spark(data: str, clusters: str, out: str, *, year: int | None = None,
                   reference_totals: str | None = None, mapping: Mapping[str, str] | None = None,
                   params: MapParams | None = None, strict: bool = False, file_format: str = "generic",
                   options: Mapping[str, object] | None = None,
                   spark: SparkSession | None = None, memory: str | None = None) -> FileMapReport:
    """Map clusters with Spark from an observations input and a definitions input into the folder ``out``.

    The results are those of ``clusteratlas map --data … --out …`` on
    DuckDB (the same spec, :func:`clusteratlas.api.file_spec`, run by the same
    job, :func:`clusteratlas.metrics.run.run_map`), with the level column kept
    (so ``import results`` can load them). ``file_format`` and ``options``
    are those of the official-format readers (see :func:`read_official`).
    See :func:`run_spark`.
    """
    from clusteratlas.api import file_spec

    spec = file_spec(data, clusters, year=year, reference_totals=reference_totals, mapping=mapping, params=params,
                     strict=strict, file_format=file_format, options=options)
    return run_spark(spec, out, spark=spark, memory=memory)


def run_spark(spec: MapSpec, out: str, *, spark: SparkSession | None = None, memory: str | None = None,
              ) -> FileMapReport:
    """Run a stateless spec on Spark into the results folder ``out``; its ``run`` part records the :class:`MapRun`.

    Nothing is written when an input is invalid (or, with ``strict``, when an
    industry has no cluster); an existing ``out`` is replaced only if it is a
    results folder, and its ``run`` part is written last, so an interrupted
    run is never taken for a complete one. :func:`clusteratlas.store.results.read_run` reads the run back.
    """
    from pyspark.sql import functions as F

    from clusteratlas.api import file_reference_label

    if spec.files is None:
        raise InputError(_("this map spec maps an atlas, not files"), hint=_("Use Atlas.run or Atlas.remap"))
    files = spec.files
    spark = spark or session(memory=memory)
    _prepare_out(spark, out, delete=False)  # refuse a wrong --out before any work
    published, notes = None, []
    if files.file_format == "generic":
        obs = read_table(spark, files.data, "observations", mapping=files.mapping)
    else:
        obs, published, notes = read_official(spark, files)
    defs = read_table(spark, files.definitions, "definitions")
    ref = None
    if files.reference_totals is not None:
        ref = read_table(spark, files.reference_totals, "reference-totals").select("industry", "year", "employment")
    inputs = MapInputs(nw.from_native(obs), nw.from_native(defs),
                       reference_totals=None if ref is None else nw.from_native(ref),
                       published_totals=None if published is None else nw.from_native(published),
                       labels={"observations": files.data, "definitions": files.definitions,
                               "reference_totals": files.reference_totals})
    outcome = run_map(spec, inputs, engine=Engine())
    _prepare_out(spark, out)
    outcome.result.clusters.to_native().write.mode("overwrite").parquet(f"{out}/clusters")
    outcome.result.regions.to_native().write.mode("overwrite").parquet(f"{out}/regions")
    outcome.result.unmapped.to_native().coalesce(1).write.mode("overwrite").parquet(f"{out}/unmapped")
    rows, regions, years = describe_results(nw.from_native(spark.read.parquet(f"{out}/clusters")))
    reference_employment = None if ref is None else ref.filter(F.col("year") == years[-1]).agg(
        F.sum("employment")).first()[0]
    run = MapRun(spec=spec, run_id=uuid.uuid4().hex[:12], run_at=datetime.now(UTC).isoformat(timespec="microseconds"),
                 engine=f"spark {spark.version}", cluster_rows=rows, regions=regions, years=years,
                 unmapped_industries=outcome.unmapped.num_rows, unmapped_employment=outcome.unmapped_employment,
                 mapped_share=outcome.mapped_share, reference_label=file_reference_label(files),
                 reference_employment=reference_employment)
    manifest = {"format": RESULTS_FORMAT, "run": run.to_dict()}
    (spark.createDataFrame([(json.dumps(manifest),)], "manifest string").coalesce(1)
     .write.mode("overwrite").parquet(f"{out}/run"))
    return FileMapReport(out, run, outcome.unmapped, notes)


def _prepare_out(spark: SparkSession, out: str, *, delete: bool = True) -> None:
    """Remove an earlier results folder at ``out`` (with ``delete``); refuse to replace anything else."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(out)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return
    entries = {s.getPath().getName() for s in fs.listStatus(path)}
    if entries - set(RESULT_PARTS):
        raise InputError(_("the output exists and is not a clusteratlas results folder"), file=out,
                         value=", ".join(sorted(entries)[:5]),
                         expected=_("a new path, or an earlier results folder "
                                    "({value})").format(value=', '.join(RESULT_PARTS)))
    if not delete:
        return
    # The marker first: a run interrupted from here on leaves a folder import refuses.
    fs.delete(jvm.org.apache.hadoop.fs.Path(f"{out}/run"), True)
    fs.delete(path, True)
