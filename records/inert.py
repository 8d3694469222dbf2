"""Text from a roster or a sign-in sheet is data, never a spreadsheet formula.

A CSV opened in Excel or WPS runs any field that starts with = + - @ (or a tab / carriage
return before one) as a formula: `=HYPERLINK(...)` in a name column becomes a live link.
Writers put one apostrophe in front of such a text field (Excel's own "this is text"
mark); importers take one leading apostrophe off again, so a file we wrote (a rejects file,
a CSV report) reads back to the very same text. A text field that already starts with an
apostrophe gets one more, for the same reason.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = frozenset("=+-@\t\r")
TEXT_MARK = "'"


def needs_mark(text: str) -> bool:
    """Would a spreadsheet read `text` as a formula (or lose our text mark)?"""
    return bool(text) and (text[0] in FORMULA_STARTS or text[0] == TEXT_MARK)


def csv_field(value: Any) -> Any:
    """`value` as safe to put in a CSV text column: strings get the text mark when needed.

    Anything that is not a string (numbers, dates, None) is returned as it is: a number in a
    numeric column stays a number.
    """
    if isinstance(value, str) and needs_mark(value):
        return TEXT_MARK + value
    return value


def unmark(value: Any) -> Any:
    """The inverse for a cell read from a file: one leading apostrophe comes off a string."""
    if isinstance(value, str) and value.startswith(TEXT_MARK):
        return value[1:]
    return value
