"""Shared pieces of the command line: the Typer apps, consoles, options and clean failure."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import click
import duckdb
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from clusteratlas import __version__, i18n
from clusteratlas._sql import progress as query_progress
from clusteratlas.errors import ClusterAtlasError
from clusteratlas.i18n import _
from clusteratlas.metrics import MapParams
from clusteratlas.sources.generic import parse_mapping

app = typer.Typer(help="clusteratlas: map, rate and compare regional industrial clusters.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
show_app = typer.Typer(help="Show stored results as readable tables.", no_args_is_help=True)
app.add_typer(show_app, name="show")

out = Console()
err = Console(stderr=True)

AtlasOpt = Annotated[Path, typer.Option("--atlas", "-a", help="The atlas file.")]
TimingsOpt = Annotated[bool, typer.Option("--timings", help="Print the wall and CPU time of each stage (reading, "
                                          "each check, storing) on stderr when done.")]
BomOpt = Annotated[bool, typer.Option("--bom", envvar="CLUSTERATLAS_CSV_BOM",
                                      help="Start a CSV with a UTF-8 byte-order mark, so that Excel (Japanese "
                                           "Windows included) opens it as UTF-8 instead of garbling it.")]
def year_parser(value: str | int) -> int:
    """A year option as people write it: 2007, 平成19年, H19, 2007年度, 令和6年度, FY2007 (see dates.parse_year)."""
    from clusteratlas.dates import YEAR_EXPECTED, parse_year

    if isinstance(value, int):
        return value
    try:
        return parse_year(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{exc} ({value!r}); expected {YEAR_EXPECTED}") from None


YearOpt = Annotated[int | None, typer.Option(parser=year_parser, metavar="YEAR", help="Year (default: the latest).")]
WideOpt = Annotated[bool, typer.Option("--wide", help="Show every table column at full width (lines may "
                                                     "exceed the terminal); by default the columns that do not "
                                                     "fit are hidden, least important first.")]
NutsLevelOpt = Annotated[int | None, typer.Option(help="eurostat: keep regions of this NUTS level only (0 "
                                                       "countries, 1, 2, 3); Eurostat tables mix levels, which "
                                                       "would count jobs twice.")]
NaceLevelOpt = Annotated[str | None, typer.Option(help="eurostat: keep industries of this NACE level only: "
                                                       "section (letter), division (2 digits), group (3), class "
                                                       "(4).")]


@contextlib.contextmanager
def failing_cleanly() -> Iterator[None]:
    """Turn ClusterAtlasError into a one-line message and exit code 2."""
    try:
        yield
    except ClusterAtlasError as exc:
        # escaped: a message may hold square brackets (pip install 'clusteratlas[japan]') that Rich would
        # otherwise take for markup and swallow
        err.print("[bold red]" + _("error:") + f"[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except duckdb.OutOfMemoryException as exc:
        # not the user's data but the machine's limit: say which limit and how to raise it, without a traceback
        first = str(exc).splitlines()[0]
        err.print("[bold red]" + _("error:") + "[/] " + escape(_(
            "DuckDB ran out of memory ({detail}); nothing was stored. Raise the limit with --memory-limit or "
            "CLUSTERATLAS_MEMORY_LIMIT (e.g. 4GB), or set CLUSTERATLAS_TEMP_DIR to a disk with more room for "
            "spilling.").format(detail=first)), highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def fails_cleanly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A command that fails cleanly (see :func:`failing_cleanly`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with failing_cleanly():
            return fn(*args, **kwargs)

    return wrapper


def records_timings(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A command whose stages are timed (:mod:`clusteratlas.timings`), ``name`` formatted with its arguments.

    With ``--timings`` (a ``timings`` argument) the table is printed on
    stderr when the command succeeds; with the environment variable
    ``CLUSTERATLAS_TIMINGS=path.json`` the timings are written there as
    JSON (the benchmark harness reads them).
    """
    from clusteratlas import timings as timing

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with timing.recording(name.format(**kwargs)) as recorded:
                result = fn(*args, **kwargs)
            if kwargs.get("timings"):
                err.print(timing.render(recorded), markup=False, highlight=False, soft_wrap=True)
            if os.environ.get(timing.ENV):
                timing.write_json(recorded, os.environ[timing.ENV])
            return result

        return wrapper

    return decorate


@contextlib.contextmanager
def step(text: str, con: Any = None) -> Iterator[None]:
    """A spinner with elapsed time while a step runs (hidden when not a terminal).

    With a DuckDB connection, also a bar with the progress of the query it runs.
    """
    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if con is not None:
        columns += [BarColumn(), TextColumn("{task.percentage:>3.0f}%")]
    with Progress(*columns, TimeElapsedColumn(), console=err, transient=True,
                  disable=not err.is_terminal) as bar:
        task = bar.add_task(text, total=100 if con is not None else None)
        if con is None or not err.is_terminal:
            yield
            return
        with query_progress(con, lambda done: bar.update(task, completed=done)):
            yield


def rate(rows: int, started: float) -> None:
    """Rows per second of a long step, on a terminal."""
    seconds = time.perf_counter() - started
    if err.is_terminal and seconds > 0:
        err.print(f"{rows:,} rows in {seconds:,.1f} s ({rows / seconds:,.0f} rows/s)")


def map_params(base_year: int | None, by_subcluster: bool, peers: list[str] | None,
            **overrides: float | None) -> MapParams:
    given = {k: v for k, v in overrides.items() if v is not None}
    peer_levels = {}
    for pair in peers or []:
        level, sep, peer = pair.partition("=")
        if not sep:
            raise ClusterAtlasError(_("bad --peers {pair!r}; expected LEVEL=PEER_LEVEL, e.g. "
                                      "custom=economic_area").format(pair=pair))
        peer_levels[level.strip()] = peer.strip()
    return MapParams(base_year=base_year, by_subcluster=by_subcluster, peer_levels=peer_levels, **given)


def format_options(file_format: str, year: int | None, digits: int, filters: list[str] | None,
                    wide: dict[str, str | None] | None = None, kind: str = "observations", *,
                    nuts_level: int | None = None, nace_level: str | None = None) -> dict:
    """Reader options for an official file format."""
    if file_format != "eurostat" and (nuts_level is not None or nace_level is not None):
        raise ClusterAtlasError(_("--nuts-level and --nace-level work with --format eurostat"))
    extra = {k: v for k, v in (wide or {}).items() if v}
    if file_format == "cbp":
        return {"year": year, "digits": digits}
    if file_format == "qcew":
        return {"digits": digits, "filters": parse_mapping(filters)}
    if file_format == "eurostat":
        return {"filters": parse_mapping(filters), "nuts_level": nuts_level, "nace_level": nace_level}
    if file_format in ("estat", "estat-csv") and kind == "observations":
        given = parse_mapping(filters)
        industry = given.pop("industry", "cat01")
        return {"industry": industry, "filters": given}
    if file_format == "wide":
        keys = ("prefix", "establishments_prefix", "totals_prefix", "region_column")
        return {"year": year, **{k: v for k, v in extra.items() if k in keys}}
    if file_format == "jp-municipalities":
        return {"year": year} if year else {}
    if file_format in ("geojson", "topojson", "shapefile"):
        return {k: v for k, v in extra.items() if k in ("layer", "id_property")}
    return {}


def recode_option(path: Path | None, columns: str | None) -> dict:
    """The ``recode`` reader option: a region concordance read from ``path``."""
    if path is None:
        return {}
    from clusteratlas.reference.benchmark import read_concordance

    names = [c.strip() for c in columns.split(",")] if columns else []
    if columns and len(names) not in (2, 3):
        raise ClusterAtlasError(_("bad --recode-columns {columns!r}; expected "
                                  "SOURCE,TARGET[,WEIGHT]").format(columns=columns))
    source, target, weight = [*names, None, None, None][:3]
    return {"recode": read_concordance(path, source=source, target=target, weight=weight)}


def _version(value: bool) -> None:
    if value:
        out.print(f"clusteratlas {__version__}")
        raise typer.Exit()


def _lang(ctx: typer.Context, value: str | None) -> str:
    """Set the language before any command runs (and translate the help of the whole command tree)."""
    with failing_cleanly():
        lang = i18n.check(value) if value else i18n.detect(environ={k: v for k, v in os.environ.items()
                                                                   if k != "CLUSTERATLAS_LANG"})
    i18n.set_language(lang)
    translate_commands(ctx.find_root().command)
    return lang


#: Fixed words of Typer's help panels (module constants of typer.rich_utils), translated with the help texts.
TYPER_WORDS = ("DEPRECATED_STRING", "DEFAULT_STRING", "ENVVAR_STRING", "REQUIRED_LONG_STRING", "ARGUMENTS_PANEL_TITLE",
               "OPTIONS_PANEL_TITLE", "COMMANDS_PANEL_TITLE", "ERRORS_PANEL_TITLE", "ABORTED_TEXT", "RICH_HELP")
_TYPER_SOURCE: dict[str, str] = {}


def translate_commands(command: click.Command) -> None:
    """Put every help text of a click command tree into the current language (idempotent: originals kept).

    Besides the commands' and options' own help: the ``--help`` option of each command and the fixed words of
    Typer's panels ("Options", "[default: …]", "[required]"), so that ``--lang ja`` help is Japanese throughout.
    """
    translate_typer_words()
    for cmd in walk_commands(command):
        help_option = cmd.get_help_option(click.Context(cmd))
        for obj in (cmd, *cmd.params, *([help_option] if help_option else [])):
            for attr in ("help", "short_help"):
                source = getattr(obj, f"_source_{attr}", getattr(obj, attr, None))
                if source:
                    setattr(obj, f"_source_{attr}", source)
                    setattr(obj, attr, _(source))


def translate_typer_words(_lang: str | None = None) -> None:
    """Typer's panel words (module constants, so shared by every command tree) in the current language.

    Called on every change of language (:data:`clusteratlas.i18n.LANGUAGE_LISTENERS`), so that English help
    rendered after a Japanese run in the same process (tests, the docs generator) is English again.
    """
    from typer import rich_utils

    if not getattr(rich_utils._make_rich_text, "_folds", False):
        rich_utils._make_rich_text = _folding(rich_utils._make_rich_text)
    for word in TYPER_WORDS:
        source = _TYPER_SOURCE.setdefault(word, getattr(rich_utils, word))
        setattr(rich_utils, word, _(source))


i18n.LANGUAGE_LISTENERS.append(translate_typer_words)


def _folding(make: Callable[..., Any]) -> Callable[..., Any]:
    """Typer's help text maker, folding Japanese lines at the cell's edge.

    Rich wraps lines at spaces; Japanese has none, so a help text would be cut short with "…" in the option
    table. Folding breaks it at any character instead, which is how Japanese is wrapped anyway.
    """

    @functools.wraps(make)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        text = make(*args, **kwargs)
        if i18n.get_language() == "ja" and hasattr(text, "overflow"):
            text.overflow = "fold"
        return text

    wrapper._folds = True  # type: ignore[attr-defined]
    return wrapper


def walk_commands(command: click.Command) -> Iterator[click.Command]:
    """A command and all its subcommands, depth first."""
    yield command
    for sub in getattr(command, "commands", {}).values():
        yield from walk_commands(sub)


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Show the version and exit.")] = False,
         lang: Annotated[str | None, typer.Option("--lang", envvar="CLUSTERATLAS_LANG", callback=_lang,
                                                  is_eager=True, help="Language of help, messages, table "
                                                  "headers and names: en or ja (default: CLUSTERATLAS_LANG, "
                                                  "else the locale, LANG=ja_JP.UTF-8 meaning ja).")] = None,
         ) -> None:
    """clusteratlas: map, rate and compare regional industrial clusters."""


ByOpt = Annotated[str, typer.Option(help="Work on clusters (from the map results) or industries "
                                          "(from the observations).")]
LevelOpt = Annotated[str | None, typer.Option(help="Region level (default: the most detailed).")]


def interface_language(argv: list[str]) -> tuple[str, list[str]]:
    """The language of help and messages, and the command line without the ``--lang`` that chose it.

    ``--lang`` anywhere on the line is the interface's language and moves to the top level, except where the
    command has a ``--lang`` of its own (``publish --lang en,ja``: the languages of the pages): there only a
    ``--lang`` before the command's name chooses the interface's language."""
    if not any(arg == "--lang" or arg.startswith("--lang=") for arg in argv):
        return i18n.detect(argv), argv  # the common case, without building the command tree (~50 ms)
    root = typer.main.get_command(app)
    command, end = root, 0  # the command named, and where its own arguments begin
    for i, token in enumerate(argv):
        sub = getattr(command, "commands", {}).get(token)
        if sub is not None:
            command, end = sub, i + 1
        elif not token.startswith("-") and (i == 0 or argv[i - 1] != "--lang"):
            break
    owns = command is not root and any("--lang" in p.opts for p in command.params)
    scanned = argv[:end] if owns else argv
    lang = i18n.detect(scanned)
    for i, arg in enumerate(scanned):  # --lang belongs to the top level: move it there from wherever it was given
        if arg == "--lang" and i + 1 < len(scanned):
            return lang, argv[:i] + argv[i + 2:]
        if arg.startswith("--lang="):
            return lang, argv[:i] + argv[i + 1:]
    return lang, argv


def run() -> None:
    """Entry point: the language first (``--lang`` anywhere on the line, CLUSTERATLAS_LANG, the locale),
    so that help is translated whatever its place; then the commands."""
    with failing_cleanly():
        lang, argv = interface_language(sys.argv[1:])
    try:
        app(["--lang", lang, *argv])
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
