"""The atlas's tables: names, types and vocabularies, in one place.

Readers produce these tables, the store keeps them, the metrics read them.
``docs/data-model.md`` explains each column; this module is the single
source the code checks against.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Values of ``observations.flag``. An empty flag means "reported as published".
FLAG_REPORTED = ""
FLAG_ESTIMATED = "estimated"  # the source publishes an estimate (e.g. Eurostat 'e')
FLAG_SUPPRESSED = "suppressed"  # withheld by the source; employment unknown
FLAG_IMPUTED = "imputed"  # withheld by the source; clusteratlas filled it in
FLAGS = (FLAG_REPORTED, FLAG_ESTIMATED, FLAG_SUPPRESSED, FLAG_IMPUTED)
#: Flags that make a figure rest on something other than a published number.
NOT_REPORTED_FLAGS = (FLAG_ESTIMATED, FLAG_SUPPRESSED, FLAG_IMPUTED)

CLUSTER_TYPES = ("traded", "local")

#: Region levels clusteratlas knows by name; users may add their own.
REGION_LEVELS = (
    "country",
    "state",
    "nuts1",
    "nuts2",
    "nuts3",
    "prefecture",
    "municipality",
    "county",
    "economic_area",
    "metro_area",
    "custom",
    "region",
)

#: Industry classifications clusteratlas knows by name.
CLASSIFICATIONS = ("naics1997", "naics2002", "naics2007", "naics2012", "naics2017", "naics2022",
                   "nace2", "jsic13", "jsic14", "custom")


@dataclass(frozen=True)
class Column:
    """One column of a table: its name, SQL type, and whether it must be given."""

    name: str
    sql_type: str
    required: bool
    description: str


OBSERVATIONS = (
    Column("region", "VARCHAR", True, "region id"),
    Column("industry", "VARCHAR", True, "industry code"),
    Column("year", "INTEGER", True, "reference year"),
    Column("employment", "DOUBLE", True, "employees (jobs); empty where the source withholds it"),
    Column("establishments", "DOUBLE", False, "number of establishments"),
    Column("payroll", "DOUBLE", False, "annual payroll in whole currency units (US$, not US$ 1,000)"),
    Column("flag", "VARCHAR", False, "'' reported, 'estimated', 'suppressed' or 'imputed'"),
    Column("size_class", "VARCHAR", False, "employment size class of a withheld cell (CBP A-M)"),
    Column("source_flag", "VARCHAR", False, "the source's own flags as published (e.g. Eurostat 'd' definition "
                                            "differs, 'bu'); `flag` says what they mean for the figures"),
)

#: The observation columns that say how a figure was published, empty in most files (stored apart: store.schema).
OBSERVATION_NOTES = ("flag", "size_class", "source_flag")

DEFINITIONS = (
    Column("industry", "VARCHAR", True, "industry code"),
    Column("cluster", "VARCHAR", True, "cluster code or name"),
    Column("type", "VARCHAR", False, "'traded' or 'local' (default traded)"),
    Column("subcluster", "VARCHAR", False, "subcluster code or name"),
    Column("cluster_name", "VARCHAR", False, "cluster name in English"),
    Column("cluster_name_ja", "VARCHAR", False, "cluster name in Japanese"),
)

REGIONS = (
    Column("region", "VARCHAR", True, "region id"),
    Column("name", "VARCHAR", False, "name in English"),
    Column("name_ja", "VARCHAR", False, "name in Japanese"),
    Column("level", "VARCHAR", False, "region level (state, county, nuts2, prefecture, ...)"),
    Column("parent", "VARCHAR", False, "the region this one belongs to in `hierarchy`"),
    Column("hierarchy", "VARCHAR", False, "name of the hierarchy of `parent` (default 'default')"),
)

CUSTOM_REGIONS = (
    Column("region", "VARCHAR", True, "id of the custom region"),
    Column("member", "VARCHAR", True, "a region that belongs to it"),
    Column("name", "VARCHAR", False, "name in English"),
    Column("name_ja", "VARCHAR", False, "name in Japanese"),
)

INDUSTRIES = (
    Column("industry", "VARCHAR", True, "industry code"),
    Column("classification", "VARCHAR", False, "naics2017, nace2, jsic14, ..."),
    Column("name", "VARCHAR", False, "name in English"),
    Column("name_ja", "VARCHAR", False, "name in Japanese"),
    Column("parent", "VARCHAR", False, "code of the parent industry"),
)

REFERENCE_TOTALS = (
    Column("industry", "VARCHAR", True, "industry code"),
    Column("year", "INTEGER", True, "reference year"),
    Column("employment", "DOUBLE", True, "employment of the reference area (e.g. the nation)"),
)

WEIGHTS = (
    Column("region", "VARCHAR", True, "region id"),
    Column("neighbor", "VARCHAR", True, "a neighbouring region"),
    Column("weight", "DOUBLE", False, "strength of the link (default 1); row-standardised when used"),
)

INDICATORS = (
    Column("region", "VARCHAR", True, "region id"),
    Column("year", "INTEGER", True, "reference year"),
    Column("value", "DOUBLE", True, "the indicator's value (may be negative, e.g. a growth rate)"),
    Column("indicator", "VARCHAR", False, "indicator name (default: --name, else the file name)"),
    Column("unit", "VARCHAR", False, "unit as the source gives it (e.g. NR, P_MHAB, EUR)"),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "observations": OBSERVATIONS,
    "definitions": DEFINITIONS,
    "regions": REGIONS,
    "custom-regions": CUSTOM_REGIONS,
    "industries": INDUSTRIES,
    "reference-totals": REFERENCE_TOTALS,
    "weights": WEIGHTS,
    "indicators": INDICATORS,
}



@dataclass(frozen=True)
class Limit:
    """The largest value one cell of a column may hold, in the column's unit (None: no fixed limit)."""

    column: str
    maximum: float | None
    unit: str
    why: str


#: Upper bounds per column and unit, above which a value of one cell is taken as a mistake (a unit slip,
#: a total row read as a cell). Counts of persons and establishments cannot exceed ten billion (the world has
#: eight billion people); money has no fixed bound: a nation's payroll in yen is above 10^14.
CELL_LIMITS: dict[str, Limit] = {
    "employment": Limit("employment", 1e10, "persons", "no place has more than ten billion people"),
    "establishments": Limit("establishments", 1e10, "establishments", "no place has ten billion establishments"),
    "payroll": Limit("payroll", None, "currency units of the source", "money has no natural bound"),
}
#: Units of the employment column that count persons (``import observations --unit``); any other unit (e.g.
#: USD, for a matrix of trade values) declares a measure of value, which has no fixed upper bound.
PERSON_UNITS = ("persons", "jobs", "employees", "people")
#: The employment limit (persons), the name of the one limit of earlier versions (the readers use CELL_LIMITS).
MAX_CELL_EMPLOYMENT = CELL_LIMITS["employment"].maximum


def cell_limit(column: str, unit: str | None = None) -> Limit | None:
    """The limit of one cell of ``column``; ``unit`` is the unit the employment column is declared in.

    The employment column counts persons unless an import declares another unit (a value such as USD), in
    which case it has no fixed bound. Columns without a limit give None.
    """
    limit = CELL_LIMITS.get(column)
    if limit is None or column != "employment" or unit is None or unit.strip().lower() in PERSON_UNITS:
        return limit
    return Limit(column, None, unit.strip(), "a declared unit of value has no fixed bound")
MIN_YEAR, MAX_YEAR = 1800, 2200
