"""Compile the gettext catalogues (``.po`` -> ``.mo``) and extract the CLI's messages into a template.

``python -m clusteratlas.i18n.compile`` writes ``locales/<lang>/LC_MESSAGES/clusteratlas.mo`` from each
``.po`` (the standard GNU format that ``gettext``, Jinja2 and Babel read); a test checks that the shipped
``.mo`` is what the ``.po`` gives. ``--pot FILE`` also writes a template of every help text of the command
line, so that a translator sees what is new. The stdlib has a reader of ``.mo`` files but no writer; this
is the small writer (what CPython's ``Tools/i18n/msgfmt.py`` does), for catalogues without plural forms.
"""

from __future__ import annotations

import ast
import struct
import sys
from pathlib import Path

LOCALES = Path(__file__).resolve().parent / "locales"


def read_po(text: str) -> dict[str, str]:
    """msgid -> msgstr of a ``.po`` file (untranslated and fuzzy entries left out; the header kept)."""
    entries: dict[str, str] = {}
    msgid: list[str] | None = None
    msgstr: list[str] | None = None
    fuzzy = False
    target = None

    def flush() -> None:
        if msgid is not None and msgstr is not None and not fuzzy:
            key, value = "".join(msgid), "".join(msgstr)
            if value:
                entries[key] = value

    for line in [*text.splitlines(), ""]:
        line = line.strip()
        if not line:
            flush()
            msgid = msgstr = None
            fuzzy = False
            continue
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("#"):
            continue
        elif line.startswith("msgid "):
            flush()
            msgid, msgstr, target = [ast.literal_eval(line[6:])], None, "id"
        elif line.startswith("msgstr "):
            msgstr, target = [ast.literal_eval(line[7:])], "str"
        elif line.startswith('"'):
            (msgid if target == "id" else msgstr).append(ast.literal_eval(line))
    return entries


def write_mo(entries: dict[str, str]) -> bytes:
    """The GNU ``.mo`` bytes of a catalogue (keys sorted, no hash table)."""
    keys = sorted(entries)
    ids = b""
    strs = b""
    offsets = []
    for key in keys:
        k, v = key.encode("utf-8"), entries[key].encode("utf-8")
        offsets.append((len(ids), len(k), len(strs), len(v)))
        ids += k + b"\0"
        strs += v + b"\0"
    start = 7 * 4
    key_table = start + len(keys) * 8
    value_table = key_table + len(keys) * 8
    ids_start = value_table
    strs_start = ids_start + len(ids)
    out = struct.pack("Iiiiiii", 0x950412DE, 0, len(keys), start, key_table, 0, 0)
    out += b"".join(struct.pack("ii", n, ids_start + o) for o, n, _, _ in offsets)
    out += b"".join(struct.pack("ii", n, strs_start + o) for _, _, o, n in offsets)
    return out + ids + strs


def po_escape(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def compile_all() -> list[Path]:
    written = []
    for po in sorted(LOCALES.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        mo.write_bytes(write_mo(read_po(po.read_text(encoding="utf-8"))))
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


if __name__ == "__main__":
    if "--pot" in sys.argv:
        target = Path(sys.argv[sys.argv.index("--pot") + 1])
        body = "".join(f"msgid {po_escape(m)}\nmsgstr \"\"\n\n" for m in cli_messages())
        target.write_text('msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n' + body, encoding="utf-8")
    for path in compile_all():
        print(path)
