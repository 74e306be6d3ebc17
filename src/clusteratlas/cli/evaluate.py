"""Command line for qualitative evaluation: ``clusteratlas assess …``, ``registry`` and ``scoreboard``.

A thin layer over :mod:`clusteratlas.evaluate` and the atlas; the rules live there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import pyarrow as pa
import typer
from rich.markup import escape

from clusteratlas.cli._common import AtlasOpt, BomOpt, WideOpt, app, err, failing_cleanly, out
from clusteratlas.errors import ClusterAtlasError, InputError
from clusteratlas.i18n import _
from clusteratlas.report import Folded
from clusteratlas.store import DEFAULT_PATH, Atlas
from clusteratlas.store.export import write_table

assess_app = typer.Typer(help="Qualitative evaluation: frameworks, assessments, reports.", no_args_is_help=True)




def _output(path: Path) -> Path:
    """Check an output path before any work: its folder is made when missing, but must be a folder."""
    folder = path.parent
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise InputError(_("cannot write here: a file stands where a folder should be"), file=str(path),
                                 value=str(parent), expected=_("a path inside a folder"))
            break
    if path.is_dir():
        raise InputError(_("this is a folder, not a file to write"), file=str(path), expected=_("a file name"))
    return path


def _write(table: pa.Table, path: Path) -> int:
    from clusteratlas._sql import plain_connect

    con = plain_connect()
    con.register("t", table)
    try:
        return write_table(con.table("t"), _output(path))
    except OSError as exc:
        raise InputError(_("cannot write the file: {value}").format(value=exc.strerror or exc),
                         file=str(path)) from None


def _write_text(text: str, path: Path) -> None:
    """Write a text file atomically (a partial file never replaces a good one); its folder is made if missing."""
    _output(path)
    tmp = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(_("cannot write the file: {value}").format(value=exc.strerror or exc),
                         file=str(path)) from None


def _warn(messages: list[str]) -> None:
    for m in messages:
        err.print(f"[yellow]warning:[/] {m}", highlight=False, soft_wrap=True)


@assess_app.command("frameworks")
def frameworks(atlas: Annotated[Path | None, typer.Option("--atlas", "-a", help="Also list the atlas's own.")]
               = None, wide: WideOpt = False) -> None:
    """List the frameworks: built in, and stored in an atlas."""
    with failing_cleanly():
        from clusteratlas.evaluate.frameworks import builtin_frameworks
        from clusteratlas.report import plain_table

        rows = [{"framework": f.id, "version": f.version, "name": f.name, "name_ja": f.name_ja,
                 "factors": len(f.factors), "where": "built in"} for f in builtin_frameworks().values()]
        if atlas is not None:
            with Atlas(atlas, read_only=True) as a:
                rows += [{"framework": r[0], "version": r[1], "name": r[2], "name_ja": r[3], "factors": None,
                          "where": "atlas"} for r in a.con.execute(
                    "SELECT framework, version, name, name_ja FROM evaluation_frameworks ORDER BY 1, 2").fetchall()]
        out.print(plain_table(rows, "Evaluation frameworks / 評価枠組み", wide=wide), crop=not wide)


@assess_app.command("show")
def show(framework: Annotated[str, typer.Argument(help="Framework id, e.g. nistep-jp-15.")],
         atlas: Annotated[Path | None, typer.Option("--atlas", "-a", help="Look in this atlas too.")] = None,
         version: Annotated[str | None, typer.Option(help="Framework version (default: latest).")] = None,
         wide: WideOpt = False) -> None:
    """A framework's factors, groups, columns and scales, in English and Japanese."""
    with failing_cleanly():
        fw = _resolve(framework, version, atlas)
        from clusteratlas.report import plain_table

        out.print(f"[bold]{fw.name}[/] / {fw.name_ja or ''} ({fw.id} {fw.version})")
        if fw.source:
            out.print(f"Source: {fw.source}", highlight=False)
        groups = {g.id: g for g in fw.groups}
        rows = [{"no.": f.number, "factor": f.id, "group": groups[f.group].name if f.group else None,
                 "name": f.name, "name_ja": f.name_ja,
                 "scale": f.scale or ", ".join(c.scale for c in fw.columns)} for f in fw.factors]
        out.print(plain_table(rows, "Factors / 要素", wide=wide), crop=not wide)
        for c in fw.columns:
            scale = fw.scales[c.scale]
            out.print(f"Column [bold]{c.id}[/] ({c.name} / {c.name_ja or ''}): {scale.kind} scale "
                          f"{scale.describe()}" + (f", rule {scale.rule}" if scale.rule else ""), highlight=False)


def _resolve(framework: str, version: str | None, atlas: Path | None):
    if atlas is not None and atlas.exists():
        with Atlas(atlas, read_only=True) as a:
            return a.framework(framework, version)
    from clusteratlas.evaluate.frameworks import builtin_frameworks

    found = builtin_frameworks().get(framework)
    if found is None:
        raise InputError(_("unknown framework"), value=framework, expected=", ".join(builtin_frameworks()),
                         hint=_("Pass --atlas to look among the frameworks stored there"))
    if version and version != found.version:
        raise InputError(_("framework {framework} has no version {version!r}").format(
            framework=framework, version=version), expected=found.version)
    return found


@assess_app.command("check-framework")
def check_framework(file: Annotated[Path, typer.Argument(help="A framework file (YAML or JSON).")]) -> None:
    """Validate a framework file against the schema and for consistency; store nothing."""
    with failing_cleanly():
        from clusteratlas.evaluate.frameworks import load_framework

        fw = load_framework(file)
        out.print(f"{file}: framework {fw.id} {fw.version} is valid: {len(fw.factors)} factors, "
                      f"{len(fw.columns)} column(s), scales {', '.join(fw.scales)}.")


@assess_app.command("add-framework")
def add_framework(file: Annotated[Path, typer.Argument(help="A framework file (YAML or JSON).")],
                  atlas: AtlasOpt = DEFAULT_PATH) -> None:
    """Store your own framework (one version; a changed file needs a new version)."""
    with failing_cleanly(), Atlas(atlas) as a:
        fw, added = a.add_framework(file)
        out.print(f"{'Stored' if added else 'Already stored:'} framework {fw.id} {fw.version}.")


@assess_app.command("template")
def template(framework: Annotated[str, typer.Argument(help="Framework id.")],
             out_file: Annotated[Path, typer.Argument(help="The template to write (.csv or .xlsx).")],
             subject: Annotated[str, typer.Option(help="Subject id (a cluster, organisation or region).")] = "",
             assessor: Annotated[str, typer.Option(help="Who assesses.")] = "",
             assessed_on: Annotated[str, typer.Option("--date", help="Date of the assessment: YYYY-MM-DD, "
                                                      "令和6年4月1日, R6.4.1 or a fiscal year 2024年度 (read as "
                                                      "'assess import' reads it).")] = "",
             assessment: Annotated[str | None, typer.Option(help="Assessment id (default: "
                                                            "SUBJECT-FRAMEWORK-DATE, one per subject).")] = None,
             tag: Annotated[list[str] | None, typer.Option(help="Attribute KEY=VALUE to group by later, "
                                                           "repeatable (e.g. formation_base=knowledge).")] = None,
             atlas: Annotated[Path | None, typer.Option("--atlas", "-a", help="Look in this atlas too.")] = None,
             bom: BomOpt = False) -> None:
    """Write an empty assessment to fill in: one row per factor × column, with names and allowed values."""
    with failing_cleanly():
        from clusteratlas.dates import parse_date
        from clusteratlas.evaluate.assessments import template_rows
        from clusteratlas.sources.generic import parse_mapping

        _output(out_file)
        fw = _resolve(framework, None, atlas)
        rows = template_rows(fw, assessment=assessment, subject=subject, assessor=assessor, assessed_on=assessed_on,
                             tags=parse_mapping(tag))
        if assessed_on and parse_date(assessed_on).is_future():
            _warn([f"--date {assessed_on} is in the future"])
        n = _write(pa.Table.from_pylist(rows), out_file)
        if bom and out_file.suffix.lower() == ".csv":
            from clusteratlas.store.export import add_bom

            add_bom(out_file)
        out.print(f"Wrote a {fw.id} template with {n} rows to {out_file}; fill in 'value' "
                      f"({fw.scales[fw.columns[0].scale].describe()}), then 'clusteratlas assess import'.")


@assess_app.command("import")
def import_(file: Annotated[Path, typer.Argument(help="Assessments (.csv in UTF-8 or CP932, or .xlsx).")],
            atlas: AtlasOpt = DEFAULT_PATH,
            dry_run: Annotated[bool, typer.Option(help="Check the file and report; store nothing.")] = False) -> None:
    """Check assessments against their frameworks, then store them; edits become new revisions."""
    with failing_cleanly(), Atlas(atlas) as a:
        r = a.import_assessments(file, dry_run=dry_run)
        _warn(r.warnings)
        verb = "Checked (dry run, nothing stored)" if dry_run else "Imported"
        out.print(f"{verb} {r.assessments} assessment(s) from {file} ({', '.join(r.frameworks)}): {r.new} new, "
                      f"{r.revised} revised (earlier revisions kept), {r.unchanged} unchanged.")


@assess_app.command("export")
def export(out_file: Annotated[Path, typer.Argument(help="Output .csv, .parquet or .xlsx.")],
           atlas: AtlasOpt = DEFAULT_PATH,
           framework: Annotated[str | None, typer.Option(help="Only this framework.")] = None,
           all_revisions: Annotated[bool, typer.Option(help="Every revision, not only the current ones.")] = False,
           ) -> None:
    """Export assessments in the import format (one row per score)."""
    with failing_cleanly():
        from clusteratlas.store.evaluations import assessments_table

        _output(out_file)
        with Atlas(atlas, read_only=True) as a:
            table = assessments_table(a.assessments(framework=framework, all_revisions=all_revisions))
        n = _write(table, out_file)
        out.print(f"Wrote {n:,} scores to {out_file}")


@assess_app.command("report")
def report(atlas: AtlasOpt = DEFAULT_PATH,
           framework: Annotated[str, typer.Option(help="Framework id.")] = "nistep-jp-15",
           by: Annotated[str | None, typer.Option(help="Group by a tag (e.g. formation_base) or a field.")] = None,
           subject: Annotated[str | None, typer.Option(help="One subject's profile: gaps, history, and its "
                                                       "region's quantitative results.")] = None,
           reference: Annotated[bool, typer.Option(help="Show NISTEP's published averages beside "
                                                   "(nistep-jp-15, grouped by formation_base).")] = False,
           out_file: Annotated[Path | None, typer.Option("--out", help="Also write the averages here.")] = None,
           wide: WideOpt = False) -> None:
    """Averages and distributions by group, or one subject's gap profile beside its quantitative results."""
    if out_file is not None:
        with failing_cleanly():
            _output(out_file)
    with failing_cleanly(), Atlas(atlas, read_only=True) as a:
        from clusteratlas.evaluate.analysis import distribution, gap_profile, left_out, over_time
        from clusteratlas.report import averages_table, gap_table, plain_table, region_table

        fw = a.framework(framework)
        items = a.assessments(framework=framework, subject=subject)
        if subject is None:
            missing = left_out(items, by)
            if fw.has_points:
                import pyarrow.compute as pc

                from clusteratlas import queries as Q

                result = Q.group_averages(a.con, fw.id, by=by, reference=reference)
                if result.meta["published_note"]:
                    out.print(Folded("[yellow]" + _("note:") + "[/] " + escape(result.meta["published_note"])))
                averages = result.table
                own = averages.filter(pc.greater(averages["assessments"], 0))
                table = own.drop_columns(["published", "published_assessments"]) if own.num_rows else None
                ref = None
                if reference:
                    given = averages.filter(pc.is_valid(averages["published"]))
                    ref = given.select(["group", "column", "factor", "published"]).rename_columns(
                        ["group", "column", "factor", "mean"])
                out.print(averages_table(averages, fw, ref, wide=wide), crop=not wide)
            else:
                table = distribution(items, fw, by=by)
                out.print(plain_table(table.to_pylist(), f"{fw.name}: how often each value was given",
                                          ["group", "factor", "value", "value_name", "value_name_ja", "count"],
                                      wide=wide), crop=not wide)
            if missing:
                out.print(Folded("[yellow]" + _("note:") + "[/] " + escape(_(
                    "{n} of {total} assessment(s) have no {by!r} and are left out of this grouping: {ids}").format(
                        n=len(missing), total=len(items), by=by, ids=", ".join(m.assessment for m in missing)))))
            if out_file is not None and table is not None:
                n = _write(table, out_file)
                out.print(_("Wrote {n:,} rows to {path}").format(n=n, path=out_file), highlight=False)
            return
        latest = items[-1]
        out.print(f"[bold]{latest.subject_name or subject}[/] {latest.subject_name_ja or ''} — "
                      f"{len(items)} assessment(s) under {fw.id}; latest {latest.assessed_on} by {latest.assessor}")
        if len(fw.columns) >= 2:
            now, then = fw.columns[0].id, fw.columns[1].id
            out.print(gap_table(gap_profile(latest, fw), now, then,
                                f"Gap profile: {fw.columns[0].name} → {fw.columns[1].name}", wide=wide), crop=not wide)
        if len(items) > 1 or len(fw.columns) < 2:
            rows = [r for r in over_time(items, fw).to_pylist() if r["value"] is not None]
            out.print(plain_table(rows, "Over time", ["assessed_on", "assessment", "column", "factor", "value",
                                                      "points"], wide=wide), crop=not wide)
        if latest.region:
            try:
                summary, clusters = a.region_profile(latest.region)
            except InputError as exc:
                out.print(f"[yellow]note:[/] no quantitative results for region {latest.region} ({exc.problem})")
            else:
                out.print(region_table(summary, clusters, wide=wide), crop=not wide)


@assess_app.command("history")
def history(subject: Annotated[str, typer.Argument(help="Subject id.")], atlas: AtlasOpt = DEFAULT_PATH,
            era: Annotated[bool, typer.Option("--era", help="Show the assessment dates in the Japanese era "
                                              "(令和6年4月1日).")] = False, wide: WideOpt = False) -> None:
    """Every revision of every assessment of one subject, with who recorded it and when."""
    with failing_cleanly(), Atlas(atlas, read_only=True) as a:
        from clusteratlas.report import plain_table

        a.assessments(subject=subject, all_revisions=True)
        rows = a.con.sql("""SELECT a.assessment, a.revision, a.framework, a.framework_version, a.assessed_on,
            a.assessor, a.recorded_at::VARCHAR AS recorded_at, count(s.factor) AS scores
            FROM assessments a LEFT JOIN assessment_scores s USING (assessment, revision)
            WHERE a.subject = ? GROUP BY ALL ORDER BY a.assessed_on, a.assessment, a.revision""",
                         params=[subject]).to_arrow_table().to_pylist()
        if era:
            from clusteratlas.dates import format_date

            rows = [{**r, "assessed_on": format_date(str(r["assessed_on"]) if r["assessed_on"] else None, "era")}
                    for r in rows]
        out.print(plain_table(rows, f"History of {subject}", wide=wide), crop=not wide)


@assess_app.command("html")
def html(out_file: Annotated[Path, typer.Argument(help="The report to write (.html).")],
         atlas: AtlasOpt = DEFAULT_PATH,
         framework: Annotated[str | None, typer.Option(help="Only this framework.")] = None,
         subject: Annotated[str | None, typer.Option(help="Only this subject.")] = None) -> None:
    """A self-contained HTML report: a radar profile per assessment, scores with evidence (print it to PDF)."""
    with failing_cleanly():
        _output(out_file)
        with Atlas(atlas, read_only=True) as a:
            from clusteratlas.evaluate.html import report_html

            items = a.assessments(framework=framework, subject=subject)
            pairs = [(a.framework(i.framework, i.framework_version), i) for i in items]
            text = report_html(pairs)
        _write_text(text, out_file)
    out.print(f"Wrote {len(items)} assessment(s) to {out_file}")


def registry(programme: Annotated[str | None, typer.Argument(help="industrial-cluster-plan, knowledge-cluster, "
                                                           "city-area, innovation-network or nistep-candidates "
                                                           "(default: a summary).")] = None,
             out_file: Annotated[Path | None, typer.Option("--out", help="Also write the entries here.")] = None,
             era: Annotated[bool, typer.Option("--era", help="Show start years as the sources write them, "
                                               "Japanese era fiscal years (平成19年度); with --lang ja "
                                               "they are shown as 2007年度.")] = False,
             wide: WideOpt = False) -> None:
    """Japan's cluster programmes (METI, MEXT) and NISTEP's candidate regions, from the sources."""
    with failing_cleanly():
        from clusteratlas import i18n
        from clusteratlas.reference.programmes import programme_name, programme_table
        from clusteratlas.report import Col, FitTable

        table = programme_table(programme)
        if programme is None:
            counts: dict[str, int] = {}
            for r in table.to_pylist():
                counts[r["programme"]] = counts.get(r["programme"], 0) + 1
            summary = FitTable(_("Japanese cluster programmes (registry)"), [
                Col("Programme", priority=0, flex=True), Col("Id", priority=1), Col("Entries", "right", 0)],
                wide=wide)
            for key, n in counts.items():
                summary.add_row(i18n.name(*programme_name(key)) or key, key, f"{n:,}")
            out.print(summary, crop=not wide)
        else:
            from clusteratlas.dates import format_year

            style = "era" if era else "year"
            fiscal = era or i18n.get_language() == "ja"  # the programmes start in fiscal years (年度)
            entries = FitTable(i18n.name(*programme_name(programme)) or programme, [
                Col("Region", priority=1), Col("Name", priority=0, flex=True), Col("Start", priority=1),
                Col("Type", priority=3), Col("Fields", priority=2, flex=True), Col("Prefectures", priority=4)],
                wide=wide)
            for r in table.to_pylist():  # the region as 'map --level custom' and 'show region' name it
                entries.add_row(f"{programme}:{r['id']}", i18n.name(r["name"], r["name_ja"]),
                                format_year(r["start"], style, fiscal=fiscal),
                                _(r["type"]) if r["type"] else None, i18n.name(r["fields"], r["fields_ja"]),
                                r["regions"])
            out.print(entries, crop=not wide)
        if out_file is not None:
            n = _write(table, out_file)
            out.print(f"Wrote {n:,} rows to {out_file}")


def scoreboard(file: Annotated[Path | None, typer.Argument(help="A table with one row per unit and a column per "
                                                         "indicator (.csv, .parquet, .xlsx).")] = None,
               unit: Annotated[str, typer.Option(help="The column naming the units.")] = "region",
               indicator: Annotated[list[str] | None, typer.Option(help="Indicator columns (default: every numeric "
                                                                   "column).")] = None,
               weight: Annotated[list[str] | None, typer.Option(help="INDICATOR=WEIGHT or PILLAR=WEIGHT, "
                                                                "repeatable (default: equal).")] = None,
               pillar: Annotated[list[str] | None, typer.Option(help="INDICATOR=PILLAR, repeatable: aggregate "
                                                                "indicators into pillars first.")] = None,
               lower_is_better: Annotated[list[str] | None, typer.Option(help="Indicators where less is "
                                                                         "better.")] = None,
               normalise: Annotated[str, typer.Option(help="minmax, zscore or rank.")] = "minmax",
               aggregate: Annotated[str, typer.Option(help="arithmetic or geometric.")] = "arithmetic",
               sensitivity: Annotated[int, typer.Option(help="Random weight draws for the rank ranges "
                                                        "(0 = none).")] = 1000,
               assessments: Annotated[str | None, typer.Option(help="Score the subjects of this framework's "
                                                               "assessments instead (groups become pillars), "
                                                               "e.g. imd-wcy-2004.")] = None,
               atlas: AtlasOpt = DEFAULT_PATH,
               top: Annotated[int, typer.Option(help="Rows to show.")] = 20,
               out_file: Annotated[Path | None, typer.Option("--out", help="Also write all rows here.")] = None,
               wide: WideOpt = False) -> None:
    """A composite index: normalise, weigh, aggregate, rank, and check the ranks against other weights."""
    with failing_cleanly():
        from clusteratlas.evaluate import scoreboard as sb
        from clusteratlas.report import plain_table
        from clusteratlas.sources.generic import parse_mapping

        if assessments:
            units, names, values, pillars = _assessment_matrix(atlas, assessments)
        elif file is not None:
            units, names, values = _file_matrix(file, unit, indicator)
            pillars = parse_mapping(pillar) or None
        else:
            raise ClusterAtlasError(_("give an indicator table, or --assessments FRAMEWORK"))
        weights = {k: _number(v, k) for k, v in parse_mapping(weight).items()}
        options = {"weights": weights, "normalisation": normalise, "aggregation": aggregate,
                   "lower_is_better": set(lower_is_better or []), "pillars": pillars}
        board = sb.composite(units, names, values, **options)
        rows = [{"rank": int(board.rank[i]), "unit": u, "score": float(board.score[i]),
                 "missing": int(board.missing[i]), **{p: float(v[i]) for p, v in board.pillars.items()}}
                for i, u in enumerate(units)]
        if sensitivity:
            sens = sb.sensitivity(units, names, values, draws=sensitivity, **options)
            for i, r in enumerate(rows):
                r.update({"rank_median": float(sens.median[i]), "rank_p5": float(sens.low[i]),
                          "rank_p95": float(sens.high[i])})
        rows.sort(key=lambda r: (r["rank"], r["unit"]))
        out.print(plain_table(rows[:top], f"Composite index ({normalise}, {aggregate}; weights "
                              + ", ".join(f"{k} {v:.2f}" for k, v in board.weights.items()) + ")", wide=wide),
                  crop=not wide)
        if out_file is not None:
            n = _write(pa.Table.from_pylist(rows), out_file)
            out.print(f"Wrote {n:,} rows to {out_file}")


def _number(text: str, key: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(_("not a number"), column=key, value=text, expected=_("a weight such as 0.5")) from None


def _file_matrix(path: Path, unit: str, indicators: list[str] | None):
    from clusteratlas._sql import connect, scalar
    from clusteratlas.sources.files import LINE, open_relation

    con = connect()
    view = open_relation(con, path)
    cols = [c for c in con.table(view).columns if c != LINE]
    if unit not in cols:
        raise InputError(_("no such unit column"), file=str(path), value=unit, expected=", ".join(cols))
    chosen = indicators or [c for c in cols if c != unit and scalar(
        con, f'SELECT count(*) FILTER (WHERE "{c}" IS NOT NULL AND TRY_CAST("{c}" AS DOUBLE) IS NULL) = 0 '
        f'AND count("{c}") > 0 FROM {view}')]
    for c in chosen:
        if c not in cols:
            raise InputError(_("no such indicator column"), file=str(path), value=c, expected=", ".join(cols))
        bad = con.execute(f'SELECT {LINE}, "{c}" FROM {view} WHERE "{c}" IS NOT NULL AND TRY_CAST("{c}" AS DOUBLE) '
                          f"IS NULL ORDER BY {LINE} LIMIT 1").fetchall()
        if bad:
            raise InputError(_("not a number"), file=str(path), row=bad[0][0], column=c, value=bad[0][1])
    if not chosen:
        raise InputError(_("no numeric indicator columns"), file=str(path), hint=_("Name them with --indicator"))
    select = ", ".join(f'TRY_CAST("{c}" AS DOUBLE)' for c in chosen)
    data = con.execute(f'SELECT "{unit}"::VARCHAR, {select} FROM {view} ORDER BY {LINE}').fetchall()
    units = [r[0] for r in data]
    if len(set(units)) != len(units):
        raise InputError(_("a unit appears twice"), file=str(path), column=unit,
                         value=next(u for u in units if units.count(u) > 1))
    values = np.array([[np.nan if v is None else v for v in r[1:]] for r in data], dtype=float)
    return units, chosen, values


def _assessment_matrix(atlas: Path, framework: str):
    with Atlas(atlas, read_only=True) as a:
        fw = a.framework(framework)
        items = a.assessments(framework=framework)
    factors = [f for f in fw.factors if any(fw.scale_for(f, c).kind != "categorical" for c in fw.columns)]
    column = fw.columns[0].id
    subjects = sorted({i.subject for i in items})
    latest = {i.subject: i for i in items}  # oldest first, so the last one wins
    values = np.full((len(subjects), len(factors)), np.nan)
    for r, s in enumerate(subjects):
        for k, f in enumerate(factors):
            scored = next((x for x in latest[s].scores if x.factor == f.id and x.column == column), None)
            if scored is not None:
                values[r, k] = scored.points
    pillars = {f.id: f.group for f in factors} if all(f.group for f in factors) else None
    return subjects, [f.id for f in factors], values, pillars


app.add_typer(assess_app, name="assess")
app.command()(registry)
app.command()(scoreboard)
