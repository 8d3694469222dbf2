import datetime as dt

import pytest

from records import idcard
from tests.helpers import id_number


def test_valid_number_round_trips_and_derives_birth_and_sex():
    number = id_number(seq="451")  # 17th digit 1: male
    assert idcard.validate(number) == number
    assert idcard.birth_date(number) == dt.date(1990, 3, 7)
    assert idcard.sex(number) == "男"


def test_lower_case_x_is_accepted_as_upper():
    first17 = "11010119900307109"
    assert idcard.check_digit(first17) == "X"
    assert idcard.validate(first17 + "x") == first17 + "X"


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("11010119900307451", "18位"),
        ("110101900307451", "15位旧身份证号"),
        ("1101011990030745A1", "前17位"),
        ("990101199003074514", "地区码"),
        ("110101199002304512", "出生日期"),
        ("110101199003074515", "校验位"),
        ("110101209901014512", "不合理"),
    ],
)
def test_invalid_numbers_say_why(number, reason):
    with pytest.raises(idcard.InvalidIdNumber, match=reason):
        idcard.validate(number, today=dt.date(2026, 11, 1))


def test_mask_keeps_first_and_last_four_only():
    number = id_number()
    masked = idcard.mask(number)
    assert masked == number[:4] + "********" + number[-4:]
    assert number[6:14] not in masked  # birth date hidden
    assert idcard.mask(None) == ""
    assert idcard.mask("123") == "***"
