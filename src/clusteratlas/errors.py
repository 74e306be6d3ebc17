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
        """The message; its fixed words (line, column, found, expected) in the current language."""
        from clusteratlas.i18n import _

        where = []
        if self.file:
            where.append(str(self.file))
        if self.row is not None:
            where.append(_("line {row}").format(row=self.row))
        if self.column:
            where.append(_("column '{column}'").format(column=self.column))
        text = (", ".join(where) + ": " if where else "") + _(self.problem)
        if self.value is not None:
            text += _(" (found {value})").format(value=repr(self.value))
        if self.expected:
            text += _("; expected {expected}").format(expected=self.expected)
        if self.hint:
            text = _("{message}. {hint}").format(message=text, hint=_(self.hint))
        return text


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """Return a "did you mean" hint listing the closest available names."""
    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    available = ", ".join(choices)
    if close:
        return f"Did you mean {' or '.join(repr(c) for c in close)}? Available: {available}"
    return f"Available columns: {available}" if choices else None


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
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    scalar = isinstance(error.instance, str | int | float | bool)
    json_types = {dict: "an object", list: "an array", str: "a string", bool: "true/false", int: "an integer",
                  float: "a number", type(None): "null"}
    if error.validator == "type":
        message = f"expected {error.validator_value}, found {json_types.get(type(error.instance), 'another type')}"
    else:
        message = error.message if len(error.message) <= 200 else error.message[:200] + "…"
    raise InputError(f"not {what}: at {where} (JSON pointer), {message}", file=label,
                     value=error.instance if scalar else None)


def duplicate_names(names: list[str], label: str, *, row: int | None = 1) -> None:
    """Raise when a header names a column twice (case and surrounding blanks ignored).

    Readers match column names without regard to case, so ``Employment`` and
    ``employment`` would be the same column: one of them would be used silently.
    """
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        key = str(name).strip().casefold()
        if key in seen:
            raise InputError(f"the header names column {str(name).strip()!r} twice: columns {seen[key]} and "
                             f"{position}", file=label, row=row,
                             expected="each column name once (letter case is ignored)",
                             hint="Rename or remove one of the two columns")
        seen[key] = position
