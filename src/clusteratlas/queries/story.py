"""A region told in words: the figures of its profile as sentences, in English or Japanese.

As Data USA writes its profiles, the text is generated from the figures, in
one place, and shown by every face: the region page's story, its printable
report (``/regions/<id>/report``) and ``clusteratlas show region X --story``.
Each :class:`Sentence` is a sequence of plain text and :class:`Figure` parts;
a figure keeps its value and the address of the page or API answer it comes
from, so a page links every number and the terminal prints the addresses as
footnotes. The words come from the ``clusteratlas`` gettext catalogue in the
current language (:func:`clusteratlas.i18n.language_for`), the templates of
which may order the figures as the language needs.

A figure that is missing or undefined never shows as "nan" or "None": its
sentence is left out, or says why it is not defined (a region without jobs,
a level without relatedness results). An atlas of one year says nothing of
growth.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import duckdb

from clusteratlas import i18n
from clusteratlas.errors import InputError
from clusteratlas.i18n import _
from clusteratlas.queries._core import Missing, overlapping_levels, tables
from clusteratlas.queries.regions import RegionProfile, peer_regions, region_profile

#: How many clusters, peers or opportunities a sentence names at most.
LISTED = 3


@dataclass(frozen=True)
class Figure:
    """A number (or a name) in a sentence: as shown, its value, and the page or API answer it comes from.

    ``value`` is the figure as the query returned it (the tests compare it with the query's answer);
    ``text`` is how the current language writes it; ``href`` is a site-relative address (None: not linked).
    """

    text: str
    value: Any = None
    href: str | None = None


Part = str | Figure


@dataclass(frozen=True)
class Sentence:
    """One sentence of a story: ``topic`` (what it is about, e.g. ``size``), its parts in order."""

    topic: str
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        """The sentence as plain text."""
        return "".join(p.text if isinstance(p, Figure) else p for p in self.parts)

    @property
    def figures(self) -> list[Figure]:
        """Its figures, in order."""
        return [p for p in self.parts if isinstance(p, Figure)]

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "text": self.text,
                "parts": [{"text": p.text, "value": _plain(p.value), "href": p.href} if isinstance(p, Figure)
                          else {"text": p} for p in self.parts]}


@dataclass
class Story:
    """A region's story: its name, level and year, and its sentences in reading order (see the module)."""

    region: str
    name: str
    level: str
    year: int
    lang: str
    sentences: list[Sentence] = field(default_factory=list)

    def topic(self, topic: str) -> list[Sentence]:
        """The sentences about ``topic``."""
        return [s for s in self.sentences if s.topic == topic]

    def as_dict(self) -> dict[str, Any]:
        return {"region": self.region, "name": self.name, "level": self.level, "year": self.year,
                "lang": self.lang, "sentences": [s.as_dict() for s in self.sentences]}


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


# ------------------------------------------------------------------ wording
def _locale() -> str:
    return "ja_JP" if i18n.get_language() == "ja" else "en_US"


def number(value: float, digits: int = 0) -> str:
    """``value`` with the locale's grouping and ``digits`` decimals."""
    from babel.numbers import format_decimal

    return format_decimal(value, format="#,##0" + ("." + "0" * digits if digits else ""), locale=_locale())


def percent(value: float, digits: int = 1) -> str:
    """``value`` (a share, 0.123) as a percentage in the locale (12.3%)."""
    from babel.numbers import format_percent

    return format_percent(value, format="#,##0." + "0" * digits + "%", locale=_locale())


def jobs(value: float) -> str:
    """A number of jobs as the language says it: 184,412 in English (the sentence says "jobs"); in Japanese with
    人, in 万 from ten thousand on (18.4万人, 3,210人)."""
    if i18n.get_language() != "ja":
        return number(value)
    if abs(value) >= 10_000:
        return number(value / 10_000, 1).removesuffix(".0") + "万人"
    return number(value) + "人"


def _sentence(topic: str, template: str, **values: Part | tuple[Part, ...]) -> Sentence:
    """``template`` (already translated) with its ``{fields}`` replaced by ``values``: text, a figure, or a
    sequence of parts (a list of clusters)."""
    parts: list[Part] = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        if literal:
            parts.append(literal)
        if name is not None:
            value = values[name]
            parts.extend(value if isinstance(value, tuple) else (value,))
    return Sentence(topic, tuple(parts))


def _listing(items: list[tuple[Part, ...]]) -> tuple[Part, ...]:
    """Items as one list in the language: "a, b and c" / 「a、b、c」."""
    if not items:
        return ()
    out: list[Part] = list(items[0])
    for i, item in enumerate(items[1:], start=1):
        out.append(_(" and ") if i == len(items) - 1 else _(", "))
        out.extend(item)
    return tuple(out)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _query(**params: Any) -> str:
    kept = {k: v for k, v in params.items() if v is not None}
    return "?" + urlencode(kept) if kept else ""


# ------------------------------------------------------------------ the story
def region_story(con: duckdb.DuckDBPyConnection, region: str, *, year: int | None = None,
                 level: str | None = None) -> Story:
    """The story of ``region`` in the current language (see the module), from its profile and the stored analyses.

    Sentences, each left out when it has nothing to say: ``size`` (jobs, share of the level's jobs, growth since
    the first year), ``largest`` (the largest clusters), ``specialised`` (the highest location quotients above 1),
    ``strong`` (clusters rated strong or with three stars, and their growth per year), ``peers`` (the regions of
    the level closest in size), ``opportunities`` (the highest relatedness density among clusters it is not
    specialised in, RCA < 1), ``hotspots`` (significant high-high LISA hot spots centred on it), ``assessments``
    and ``programmes`` (the programme and custom regions it belongs to).

    Raises
    ------
    NotFound, InputError
        As :func:`~clusteratlas.queries.region_profile` (an unknown region, a year without results).
    """
    profile = region_profile(con, region, year=year, level=level, opportunities=LISTED)
    s, level, year = profile.summary, profile.level, profile.year
    name = i18n.name(s.get("name"), s.get("name_ja")) or region
    story = Story(region, name, level, year, i18n.get_language())
    rq = _query(level=level, year=year)
    twin = f"/api/v1/regions/{quote(region, safe='')}{rq}"
    table = f"/api/v1/regions/{quote(region, safe='')}/clusters{rq}"
    here = Figure(name, region, f"/regions/{quote(region, safe='')}{rq}")
    employment = s.get("employment")
    multi_year = len(s.get("years") or []) > 1

    if _missing(employment) or employment <= 0:
        story.sentences.append(_sentence("size", _(
            "{region} has no jobs in the atlas for {year}: its shares, specialisation and stars are not "
            "defined."), region=here, year=str(year)))
    else:
        story.sentences.append(_size(con, here, level, year, float(employment), twin))
        growth = s.get("employment_growth")
        if multi_year and not _missing(growth) and s.get("base_year") is not None:
            template = (_("Its employment grew by {growth} since {base}.") if growth >= 0
                        else _("Its employment fell by {growth} since {base}."))
            story.sentences.append(_sentence("size", template, growth=Figure(percent(abs(growth)), growth, twin),
                                             base=str(s["base_year"])))
        story.sentences.extend(_clusters(profile, level, table, multi_year))
    story.sentences.extend(_peers(con, region, level, year))
    story.sentences.extend(_opportunities(profile, level, twin))
    story.sentences.extend(_hotspots(con, region, level))
    story.sentences.extend(_assessments(con, region))
    story.sentences.extend(_programmes(con, region))
    return story


def _size(con: duckdb.DuckDBPyConnection, here: Figure, level: str, year: int, employment: float,
          twin: str) -> Sentence:
    """The region's jobs, and their share of its level's jobs (not for a level whose regions overlap)."""
    from clusteratlas.report import level_name

    total, regions = con.execute("SELECT sum(employment), count(*) FROM results_regions WHERE level = ? AND year = ?",
                                 [level, year]).fetchall()[0]
    count = Figure(jobs(employment), employment, twin)
    if level in overlapping_levels(con) or not total or regions < 2:
        return _sentence("size", _("{region} had {jobs} jobs in {year}."), region=here, jobs=count, year=str(year))
    share = employment / float(total)
    return _sentence("size", _("{region} had {jobs} jobs in {year}, {share} of the jobs of the {n} {level} regions."),
                     region=here, jobs=count, year=str(year), n=number(regions), level=level_name(level),
                     share=Figure(percent(share), share, f"/api/v1/results{_query(level=level, year=year)}"))


def _cluster(row: dict[str, Any], level: str) -> Figure:
    name = i18n.name(row.get("cluster_name"), row.get("cluster_name_ja")) or row["cluster"]
    return Figure(name, row["cluster"], f"/clusters/{quote(row['cluster'], safe='')}{_query(level=level)}")


def _clusters(profile: RegionProfile, level: str, table: str, multi_year: bool) -> list[Sentence]:
    """The largest, the most specialised and the strong clusters."""
    rows = [r for r in profile.clusters.to_pylist() if not _missing(r.get("employment")) and r["employment"] > 0]
    if not rows:
        return [_sentence("largest", _("None of its jobs is in a cluster of the definition."))]
    out = []
    largest = sorted(rows, key=lambda r: (-r["employment"], r["cluster"]))[:LISTED]
    out.append(_sentence("largest", _("Its largest clusters are {list}."), list=_listing([
        _sentence("", _("{cluster} ({jobs} jobs)"), cluster=_cluster(r, level),
                  jobs=Figure(jobs(r["employment"]), r["employment"], table)).parts for r in largest])))
    special = sorted((r for r in rows if not _missing(r.get("lq")) and r["lq"] > 1),
                     key=lambda r: (-r["lq"], r["cluster"]))[:LISTED]
    if special:
        out.append(_sentence("specialised", _("It is most specialised in {list}."), list=_listing([
            _sentence("", _("{cluster} (LQ {lq})"), cluster=_cluster(r, level),
                      lq=Figure(number(r["lq"], 2), r["lq"], table)).parts for r in special])))
    else:
        out.append(_sentence("specialised", _("None of its clusters is more concentrated here than in the "
                                               "reference economy (every LQ is 1 or less).")))
    strong = [r for r in rows if r.get("strong") or (r.get("stars") or 0) >= 3]
    if not strong:
        out.append(_sentence("strong", _("None of its clusters is rated strong or has three stars.")))
        return out
    items = []
    for r in strong[:LISTED + 2]:
        marks = " ".join(x for x in (_("strong") if r.get("strong") else "", "★" * int(r.get("stars") or 0)) if x)
        cagr = r.get("employment_cagr")
        if multi_year and not _missing(cagr):
            items.append(_sentence("", _("{cluster} ({marks}, {growth} a year)"), cluster=_cluster(r, level),
                                   marks=marks, growth=Figure(f"{'+' if cagr >= 0 else '−'}{percent(abs(cagr))}",
                                                              cagr, table)).parts)
        else:
            items.append(_sentence("", _("{cluster} ({marks})"), cluster=_cluster(r, level), marks=marks).parts)
    more = len(strong) - len(items)
    template = (_("Its strong clusters (US rating strong, or three stars) are {list}.") if not more else
                _("Its strong clusters (US rating strong, or three stars) are {list}, and {more} more."))
    out.append(_sentence("strong", template, list=_listing(items), more=Figure(number(more), more, table)))
    return out


def _peers(con: duckdb.DuckDBPyConnection, region: str, level: str, year: int) -> list[Sentence]:
    """The regions of the level closest in size (none when the region has no jobs)."""
    try:
        rows = peer_regions(con, region, n=LISTED, level=level, year=year).rows()
    except (InputError, duckdb.Error):  # no jobs: no log of the size
        return []
    rows = [r for r in rows if not _missing(r.get("distance"))]
    if not rows:
        return []
    items = [(Figure(i18n.name(r.get("name"), r.get("name_ja")) or r["region"], r["region"],
                     f"/regions/{quote(r['region'], safe='')}{_query(level=level)}"),) for r in rows]
    compare = f"/compare?{urlencode({'peers': region})}"
    return [_sentence("peers", _("The {level} regions closest to it in size are {list} ({compare})."),
                      level=_level(level), list=_listing(items), compare=Figure(_("compare them"), None, compare))]


def _level(level: str) -> str:
    from clusteratlas.report import level_name

    return level_name(level)


def _opportunities(profile: RegionProfile, level: str, twin: str) -> list[Sentence]:
    """What the region could grow into: the clusters it is not specialised in, the most related to its own."""
    rows = [r for r in profile.opportunities.to_pylist() if not _missing(r.get("density"))]
    if not rows:
        return [_sentence("opportunities", _("What it could grow into is not defined: there are no relatedness "
                                             "results at the {level} level."), level=_level(level))]
    items = [_sentence("", _("{cluster} (relatedness density {density})"), cluster=_cluster(r, level),
                       density=Figure(number(r["density"], 2), r["density"], twin)).parts for r in rows]
    return [_sentence("opportunities", _("Of the clusters it is not yet specialised in, the most related to what it "
                                         "does are {list}."), list=_listing(items))]


def _hotspots(con: duckdb.DuckDBPyConnection, region: str, level: str) -> list[Sentence]:
    """The significant high-high hot spots (local Moran, LQ) of the latest run at the region's level."""
    from clusteratlas.queries.analyses import hotspots

    if "hotspots" not in tables(con):
        return []
    try:
        answer = hotspots(con, level=level, limit=100_000)
    except (InputError, Missing):  # no hot-spot run at this level: nothing to say
        return []
    rows = sorted((r for r in answer.rows() if r["region"] == region), key=lambda r: (r["p_sim"], r["item"]))
    year = answer.meta.get("year")
    if not rows:
        return [_sentence("hotspots", _("It is at the centre of no hot spot of any cluster in {year} (local "
                                        "Moran's I on the LQ, {level} level)."), year=str(year), level=_level(level))]
    names = {r["cluster"]: r for r in profile_names(con)}
    items = [_sentence("", _("{cluster} (p = {p})"), cluster=_cluster({"cluster": r["item"], **names.get(
        r["item"], {})}, level), p=Figure(number(r["p_sim"], 3), r["p_sim"],
                                          f"/api/v1/hotspots{_query(item=r['item'], level=level)}")).parts
             for r in rows[:LISTED]]
    return [_sentence("hotspots", _("In {year} it was at the centre of a hot spot (a high LQ here and around it) "
                                    "of {list}."), year=str(year), list=_listing(items))]


def profile_names(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The clusters of the latest map run's definition with their names."""
    from clusteratlas.queries.regions import CLUSTER_NAMES

    return con.sql(CLUSTER_NAMES).to_arrow_table().to_pylist()


def _assessments(con: duckdb.DuckDBPyConnection, region: str) -> list[Sentence]:
    """The current assessments of the region or of a subject in it."""
    from clusteratlas.queries.evaluation import assessments

    if "assessments_current" not in tables(con):
        return []
    rows = [r for r in assessments(con).rows() if region in (r.get("region"), r.get("subject"))]
    if not rows:
        return []
    items = [(Figure(i18n.name(r.get("subject_name"), r.get("subject_name_ja")) or r["assessment"], r["assessment"],
                     f"/evaluations#a-{quote(r['assessment'], safe='')}"),) for r in rows[:LISTED + 2]]
    return [_sentence("assessments", _("It has {n} assessment(s) of its clusters: {list}."),
                      n=Figure(number(len(rows)), len(rows), f"/api/v1/assessments{_query(subject=region)}"),
                      list=_listing(items))]


def _programmes(con: duckdb.DuckDBPyConnection, region: str) -> list[Sentence]:
    """The programme and custom regions the region is a member of."""
    if "custom_members" not in tables(con):
        return []
    rows = con.execute("SELECT m.region, r.name, r.name_ja FROM custom_members m LEFT JOIN regions r USING (region) "
                       "WHERE m.member = ? ORDER BY m.region", [region]).fetchall()
    if not rows:
        return []
    items = [(Figure(i18n.name(en, ja) or code, code, f"/regions/{quote(code, safe='')}"),)
             for code, en, ja in rows[:LISTED + 2]]
    template = (_("It belongs to the programme or custom region {list}.") if len(rows) == 1 else
                _("It belongs to {n} programme or custom regions, among them {list}.") if len(rows) > len(items)
                else _("It belongs to the programme or custom regions {list}."))
    return [_sentence("programmes", template, list=_listing(items), n=number(len(rows)))]


#: The story's paragraphs: the region's own figures, its neighbourhood and prospects, what is done there.
PARAGRAPHS = (("size", "largest", "specialised", "strong"), ("peers", "opportunities", "hotspots"),
              ("assessments", "programmes"))


def paragraphs(story: Story) -> list[list[Sentence]]:
    """The story's sentences grouped into :data:`PARAGRAPHS` (empty paragraphs left out)."""
    grouped = [[s for s in story.sentences if s.topic in topics] for topics in PARAGRAPHS]
    return [p for p in grouped if p]


def footnotes(story: Story) -> list[str]:
    """The addresses of the story's numbers (linked figures whose value is not a name), each once, in order of
    first use: the footnotes of a printed or plain-text story (footnote ``i + 1`` is ``footnotes(story)[i]``)."""
    hrefs = (f.href for s in story.sentences for f in s.figures if f.href and not isinstance(f.value, str))
    return list(dict.fromkeys(hrefs))


def plain_text(story: Story) -> tuple[list[str], list[str]]:
    """The story as plain text for a terminal: one string per paragraph, a numbered footnote mark after each
    linked figure that is a number (names are not marked), and the footnotes (one per distinct address, in
    order of first use)."""
    notes = footnotes(story)
    joiner = "" if story.lang == "ja" else " "
    out = []
    for paragraph in paragraphs(story):
        texts = []
        for sentence in paragraph:
            text = ""
            for part in sentence.parts:
                if not isinstance(part, Figure):
                    text += part
                    continue
                text += part.text
                if part.href in notes and not isinstance(part.value, str):
                    text += f"[{notes.index(part.href) + 1}]"
            texts.append(text)
        out.append(joiner.join(texts))
    return out, notes
