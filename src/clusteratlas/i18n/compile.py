"""Compile the gettext catalogues (``.po`` -> ``.mo``) and extract the messages into a template, with Babel.

``python -m clusteratlas.i18n.compile`` writes ``locales/<lang>/LC_MESSAGES/<domain>.mo`` from every ``.po``
(every domain: the CLI's ``clusteratlas`` and any other, e.g. the web pages'); a test checks that the shipped
``.mo`` files are what Babel makes of the ``.po`` files. ``--pot FILE`` also writes a template of every message
(the help of the whole command line, and every ``_("...")`` in the source, found by Babel's extractor), which
``pybabel update -i FILE -d src/clusteratlas/i18n/locales -D clusteratlas`` merges into the ``.po`` files.

Babel is needed only here (the ``test`` extra); at run time the ``.mo`` files are read by the stdlib ``gettext``.
"""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime
from pathlib import Path

LOCALES = Path(__file__).resolve().parent / "locales"
SOURCE = Path(__file__).resolve().parent.parent


def _babel():
    try:
        from babel.messages import catalog, extract, mofile, pofile
    except ImportError as exc:  # pragma: no cover - the test extra has it
        raise SystemExit("compiling catalogues needs Babel: pip install 'clusteratlas[test]'") from exc
    return catalog, extract, mofile, pofile


def read_catalogue(po: Path):
    """The Babel catalogue of a ``.po`` file."""
    _, _, _, pofile = _babel()
    with po.open("rb") as fh:
        catalogue = pofile.read_po(fh, locale=po.parent.parent.name, domain=po.stem)
    if b"POT-Creation-Date:" not in po.read_bytes():
        # Babel would stamp the current time into the .mo header: a fixed date keeps the .mo reproducible
        catalogue.creation_date = datetime(2000, 1, 1, tzinfo=UTC)
    return catalogue


def mo_bytes(po: Path) -> bytes:
    """The ``.mo`` bytes Babel compiles from a ``.po`` (fuzzy and untranslated entries left out)."""
    _, _, mofile, _ = _babel()
    buffer = io.BytesIO()
    mofile.write_mo(buffer, read_catalogue(po), use_fuzzy=False)
    return buffer.getvalue()


def compile_all() -> list[Path]:
    """Write the ``.mo`` of every ``.po`` under :data:`LOCALES`; the paths written."""
    written = []
    for po in sorted(LOCALES.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        mo.write_bytes(mo_bytes(po))
        written.append(mo)
    return written


def cli_messages() -> list[str]:
    """Every help text of the command line (commands, options, arguments), in the order of ``--help``."""
    import typer

    from clusteratlas.cli import app
    from clusteratlas.cli._common import walk_commands

    seen: dict[str, None] = {}
    for cmd in walk_commands(typer.main.get_command(app)):
        for obj in (cmd, *cmd.params):
            for attr in ("help", "short_help"):
                text = getattr(obj, attr, None)
                if text:
                    seen.setdefault(text)
    return list(seen)


def source_messages() -> list[tuple[str, str, int]]:
    """Every ``_("...")`` literal in the package's Python source (and ``_N("...")``, a message translated later):
    (msgid, file, line), by Babel's extractor."""
    _, extract, _, _ = _babel()
    found = []
    for filename, lineno, message, _comments, _context in extract.extract_from_dir(
            str(SOURCE), method_map=[("**.py", "python")], keywords={"_": None, "_N": None}):
        if isinstance(message, str) and message:
            found.append((message, filename, lineno))
    return found


def template():
    """A Babel catalogue of every message: the CLI's help texts and the source's ``_()`` literals."""
    catalog, _, _, _ = _babel()
    pot = catalog.Catalog(domain="clusteratlas", project="clusteratlas", charset="utf-8")
    for text in cli_messages():
        pot.add(text, auto_comments=["command-line help"])
    for text, filename, lineno in source_messages():
        pot.add(text, locations=[(filename, lineno)])
    return pot


if __name__ == "__main__":
    if "--pot" in sys.argv:
        _, _, _, pofile = _babel()
        with Path(sys.argv[sys.argv.index("--pot") + 1]).open("wb") as fh:
            pofile.write_po(fh, template(), width=0)
    for path in compile_all():
        print(path)
