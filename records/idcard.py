"""Resident ID numbers (GB 11643-1999): validation, birth date, sex, masking.

The check digit and the birth date come from python-stdnum (`stdnum.cn.ric`); what is ours
is the order of the checks, the Chinese reasons a user is shown, and the masking."""

from __future__ import annotations

import datetime as dt
import logging
import re

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

# First two digits: province-level codes in use (GB/T 2260).
_PROVINCES = frozenset(
    ["11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82"]
)


class InvalidIdNumber(ValueError):
    """The reason is a Chinese sentence fit to show a user."""


def check_digit(first17: str) -> str:
    """The 18th character for the first 17 digits (ISO 7064 MOD 11-2)."""
    return ric.calc_check_digit(first17 + "0")  # stdnum reads the first 17 only


def validate(value: str, today: dt.date | None = None) -> str:
    """Return the canonical 18-character form or raise InvalidIdNumber with the reason."""
    number = value.strip().upper()
    if len(number) == 15 and number.isdigit():
        raise InvalidIdNumber("这是15位旧身份证号，请改填18位号码")
    if len(number) != 18:
        raise InvalidIdNumber(f"身份证号应为18位，这里是{len(number)}位")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise InvalidIdNumber("身份证号前17位应为数字，最后一位为数字或X")
    if number[:2] not in _PROVINCES:
        raise InvalidIdNumber(f"前两位地区码 {number[:2]} 不存在")
    try:
        birth = birth_date(number)
    except ValidationError:
        raise InvalidIdNumber(f"出生日期 {number[6:14]} 不是有效日期") from None
    if birth > (today or dt.date.today()) or birth.year < 1900:
        raise InvalidIdNumber(f"出生日期 {number[6:14]} 不合理")
    if number[17] != ric.calc_check_digit(number):
        raise InvalidIdNumber("校验位不正确，请核对号码是否抄错")
    return number


def birth_date(number: str) -> dt.date:
    """The birth date in the number; stdnum's InvalidComponent when it is no date."""
    return ric.get_birth_date(number)


def sex(number: str) -> str:
    """'男' or '女' from the 17th digit (odd = male)."""
    return "男" if int(number[16]) % 2 else "女"


def mask(number: str | None) -> str:
    """Shown form everywhere: first 4 and last 4 kept, e.g. 1101********1234."""
    if not number:
        return ""
    if len(number) < 9:
        return "*" * len(number)
    return f"{number[:4]}********{number[-4:]}"


# An 18-character ID (17 digits and a check character) or an old 15-digit one, standing alone.
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")


def mask_ids_in(text: str) -> str:
    """Every ID-number-like run of digits in free text, masked (for logs and echoes)."""
    return _ID_IN_TEXT.sub(lambda m: mask(m.group(1)), text)


class MaskIdNumbers(logging.Filter):
    """A log handler filter: no full ID number reaches a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_ids_in(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
