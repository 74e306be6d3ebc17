"""Command line for the static edition: ``clusteratlas publish DIR`` (see :mod:`clusteratlas.publish`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from clusteratlas.cli._common import AtlasOpt, app, err, fails_cleanly, out
from clusteratlas.i18n import LANGUAGES, _
from clusteratlas.store import DEFAULT_PATH


@app.command()
@fails_cleanly
def publish(folder: Annotated[Path, typer.Argument(help="Folder of the static edition (new, empty, or one "
                                                         "that publish wrote: then only what changed is "
                                                         "written).")],
            atlas: AtlasOpt = DEFAULT_PATH,
            lang: Annotated[str, typer.Option(help="Languages of the pages, comma-separated.")] = ",".join(LANGUAGES),
            levels: Annotated[str | None, typer.Option(help="Region levels to publish, comma-separated (default: "
                                                             "every level the map computed).")] = None,
            base_url: Annotated[str | None, typer.Option(help="Address the folder will be served at (the "
                                                               "sitemap's URLs are then absolute).")] = None,
            force: Annotated[bool, typer.Option("--force", help="Render every page even when the edition is up "
                                                               "to date (same atlas version and options).")]
            = False) -> None:
    """Write the static edition: every page, its JSON and CSV, the maps and a search, for any web host."""
    from clusteratlas.publish import publish as write_edition

    started = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(_("Pages"), total=None)
        edition = write_edition(atlas, folder, langs=[x.strip() for x in lang.split(",") if x.strip()],
                                levels=[x.strip() for x in levels.split(",") if x.strip()] if levels else None,
                                base_url=base_url, force=force,
                                progress=lambda done, known: bar.update(task, completed=done, total=known))
    seconds = time.perf_counter() - started
    if edition.current:
        out.print(_("The edition in {folder} is up to date: the atlas and the options are those it was made "
                    "from, and its {files:,} files are as written; nothing to do ({seconds:,.1f} s). "
                    "--force renders it again.").format(folder=folder, files=edition.files, seconds=seconds),
                  highlight=False, soft_wrap=True)
        return
    out.print(_("Published {pages:,} pages in {folder}: {files:,} files ({mb:,.1f} MB) in {seconds:,.1f} s.").format(
        pages=edition.pages, folder=folder, files=edition.files, mb=edition.size / 1e6, seconds=seconds),
        highlight=False, soft_wrap=True)
    out.print("  " + _("written: {written:,} · unchanged: {unchanged:,} · removed: {removed:,}").format(
        written=edition.written, unchanged=edition.unchanged, removed=edition.removed),
        highlight=False, soft_wrap=True)
    if edition.skipped:
        out.print(_("Not published (the app has no page there): {n:,}, e.g. {first}").format(
            n=len(edition.skipped), first=edition.skipped[0]), highlight=False, soft_wrap=True)
