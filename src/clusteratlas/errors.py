"""Errors that clusteratlas raises on purpose.

Every problem with a user's input is an :class:`InputError` that names the
culprit (file, row, column, value) and says what was expected, so the CLI can
print one clear message and exit with code 2 instead of a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


class ClusterAtlasError(Exception):
    """Base class of every error clusteratlas raises on purpose."""


@dataclass
class InputError(ClusterAtlasError):
    """A user's input is wrong; the message says where and what was expected.

    Parameters
    ----------
    problem
        What is wrong, in one sentence.
    file
        The file (or table) the input came from.
    row
        1-based line number in the file, counting the header as line 1.
    column
        The offending column.
    value
        The offending value, as found.
    expected
        What would have been accepted.
    hint
        How to fix it, when there is something useful to say.
    """

    problem: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    value: object = None
    expected: str | None = None
    hint: str | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        """The message; its fixed words (line, column, found, expected) in the current language.

        ``problem``, ``expected`` and ``hint`` are either catalogue messages (translated here, when shown: a
        message made at import time) or texts already translated where the error was raised
        (``_("… {value} …").format(value=...)``), which are shown as they are.
        """
        from clusteratlas.i18n import _, has

        def shown(text: str) -> str:  # English source text not in the catalogue still reaches the miss hooks
            return _(text) if has(text) or text.isascii() else text

        where = []
        if self.file:
            where.append(str(self.file))
        if self.row is not None:
            where.append(_("line {row}").format(row=self.row))
        if self.column:
            where.append(_("column '{column}'").format(column=self.column))
        text = (", ".join(where) + ": " if where else "") + shown(self.problem)
        if self.value is not None:
            text += _(" (found {value})").format(value=repr(self.value))
        if self.expected:
            text += _("; expected {expected}").format(expected=shown(self.expected))
        if self.hint:
            text = _("{message}. {hint}").format(message=text, hint=shown(self.hint))
        return text


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """Return a "did you mean" hint listing the closest available names (in the current language)."""
    from clusteratlas.i18n import _

    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    available = ", ".join(choices)
    if close:
        return _("Did you mean {names}? Available: {available}").format(
            names=_(" or ").join(repr(c) for c in close), available=available)
    return _("Available columns: {available}").format(available=available) if choices else None


def close_matches_hint(name: str, choices: Iterable[str]) -> str | None:
    """Only the "did you mean" part of :func:`did_you_mean` (None when nothing is close), for messages that list
    the choices elsewhere (as ``expected``)."""
    from clusteratlas.i18n import _

    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return _("Did you mean {names}?").format(names=_(" or ").join(repr(c) for c in close)) if close else None


def check_json(doc: object, schema: dict, label: str, what: str) -> None:
    """Validate a parsed JSON document against a JSON Schema; raise InputError for the first problem.

    The message names the place in the document (``features/3/properties/LEVL_CODE``)
    and what the schema wanted, so a reader never walks a structure it has not checked.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is None:
        return
    from clusteratlas.i18n import _

    where = "/".join(str(p) for p in error.absolute_path) or _("(top level)")
    scalar = isinstance(error.instance, str | int | float | bool)
    json_types = {dict: "an object", list: "an array", str: "a string", bool: "true/false", int: "an integer",
                  float: "a number", type(None): "null"}
    if error.validator == "type":
        message = _("expected {wanted}, found {found}").format(
            wanted=error.validator_value, found=_(json_types.get(type(error.instance), "another type")))
    else:
        message = error.message if len(error.message) <= 200 else error.message[:200] + "…"
    raise InputError(_("not {what}: at {where} (JSON pointer), {message}").format(what=_(what), where=where,
                                                                                    message=message), file=label,
                     value=error.instance if scalar else None)


def duplicate_names(names: list[str], label: str, *, row: int | None = 1) -> None:
    """Raise when a header names a column twice (case and surrounding blanks ignored).

    Readers match column names without regard to case, so ``Employment`` and
    ``employment`` would be the same column: one of them would be used silently.
    """
    from clusteratlas.i18n import _

    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        key = str(name).strip().casefold()
        if key in seen:
            raise InputError(_("the header names column {name!r} twice: columns {first} and {second}").format(
                name=str(name).strip(), first=seen[key], second=position), file=label, row=row,
                expected=_("each column name once (letter case is ignored)"),
                hint=_("Rename or remove one of the two columns"))
        seen[key] = position
