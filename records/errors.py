"""Errors the records layer raises; the CLI maps each to a message and an exit code."""

from __future__ import annotations

from dataclasses import dataclass


class SafeTrainError(Exception):
    """A failure a user can act on; the message says what to do."""

    exit_code = 1


class NotFound(SafeTrainError):
    """A looked-up record does not exist."""


class NotInitialised(SafeTrainError):
    """The instance or its database has not been created yet."""

    exit_code = 3


class SchemaBehind(SafeTrainError):
    """The database is older than the code's migrations."""

    exit_code = 3


@dataclass(frozen=True)
class RowError:
    """One problem in one input row, numbered as the user sees it in Excel."""

    file: str
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file} 第{self.row}行" if self.row else self.file
        if self.column:
            where += f"「{self.column}」"
        return f"{where}：{self.reason}"


class InputFileError(SafeTrainError):
    """The file as a whole cannot be read (missing, wrong type, no header row...)."""

    exit_code = 2


class ImportRowsError(SafeTrainError):
    """Some rows are invalid; nothing was written."""

    exit_code = 2

    def __init__(self, errors: list[RowError], total_rows: int) -> None:
        self.errors = errors
        self.total_rows = total_rows
        super().__init__(
            f"{len(errors)} 处错误（共 {total_rows} 行数据），未导入任何数据。"
            " Nothing was imported."
        )
