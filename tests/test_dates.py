"""Dates as people write them: ISO, Excel cells, Japanese eras (和暦) and fiscal years (年度)."""

from __future__ import annotations

import datetime as dt

import pytest

from clusteratlas.dates import ERAS, parse_date


@pytest.mark.parametrize(("text", "iso"), [
    ("2024-04-01", "2024-04-01"),
    ("2024-4-1", "2024-04-01"),
    ("2024-04", "2024-04"),
    ("2024", "2024"),
    ("2024/4/1", "2024-04-01"),
    ("2024年4月1日", "2024-04-01"),
    ("2024-04-01 00:00:00", "2024-04-01"),  # how an Excel date cell reads
    ("令和6年4月1日", "2024-04-01"),
    ("令和 6 年 4 月 1 日", "2024-04-01"),
    ("令和元年5月1日", "2019-05-01"),  # 元年 = year 1
    ("R6.4.1", "2024-04-01"),
    ("r6/4/1", "2024-04-01"),
    ("Ｒ６．４．１", "2024-04-01"),  # full-width, as typed with a Japanese IME
    ("令和６年４月１日", "2024-04-01"),
    ("H31.4.30", "2019-04-30"),  # Heisei's last day
    ("平成元年1月8日", "1989-01-08"),
    ("昭和64年1月7日", "1989-01-07"),
    ("S51.5.5", "1976-05-05"),
    ("大正元年7月30日", "1912-07-30"),
    ("T15.12.24", "1926-12-24"),
    ("M45.7.29", "1912-07-29"),
    ("令和6年4月", "2024-04"),
    ("令和6年", "2024"),
])
def test_accepted_forms(text, iso):
    parsed = parse_date(text)
    assert parsed.iso == iso and parsed.text == text and not parsed.fiscal_year


@pytest.mark.parametrize(("text", "year"), [
    ("2024年度", 2024), ("令和6年度", 2024), ("R6年度", 2024), ("令和元年度", 2019), ("平成31年度", 2019),
    ("FY2024", 2024), ("２０２４年度", 2024),
])
def test_fiscal_years_run_april_to_march_and_store_their_first_day(text, year):
    parsed = parse_date(text)
    assert parsed.fiscal_year and parsed.text == text
    assert (parsed.iso, parsed.first, parsed.last) == (f"{year}-04-01", dt.date(year, 4, 1), dt.date(year + 1, 3, 31))


def test_excel_and_python_date_objects():
    assert parse_date(dt.datetime(2024, 4, 1)).iso == "2024-04-01"
    assert parse_date(dt.date(2024, 4, 1)).iso == "2024-04-01"
    with pytest.raises(ValueError, match="no time of day"):
        parse_date(dt.datetime(2024, 4, 1, 10, 30))


@pytest.mark.parametrize(("text", "why"), [
    ("2024-13-45", "month 13 does not exist"),
    ("2024-02-30", "day 30 does not exist"),
    ("2023-02-29", "day 29 does not exist"),  # not a leap year
    ("2024-04-01 10:00:00", "no time of day"),
    ("平成31年5月1日", "after 平成 ended: 令和 began 2019-05-01"),
    ("H31.5.1", "after 平成 ended"),
    ("令和元年4月30日", "before 令和 began"),
    ("令和元年4月", "before 令和 began"),
    ("平成32年度", "after 平成 ended"),
    ("昭和64年1月8日", "after 昭和 ended"),
    ("R0.1.1", "has no year 0"),
    ("1 April 2024", "not a date"),
    ("2024-04-01x", "not a date"),
    ("", "no date given"),
])
def test_malformed_and_impossible_dates_are_refused(text, why):
    with pytest.raises(ValueError, match=why):
        parse_date(text)


@pytest.mark.parametrize("index", range(len(ERAS)))
def test_every_era_begins_and_ends_on_its_day(index):
    """Each era's first day is year 1 of it; the day before belongs to the era before, not to it."""
    name, abbr, start = ERAS[index]
    assert parse_date(f"{name}元年{start.month}月{start.day}日").first == start
    assert parse_date(f"{abbr}1.{start.month}.{start.day}").first == start
    before = start - dt.timedelta(days=1)
    with pytest.raises(ValueError, match="before"):
        parse_date(f"{name}元年{before.month}月{before.day}日")
    if index > 0:
        prev, _, prev_start = ERAS[index - 1]
        last_year = before.year - prev_start.year + 1
        assert parse_date(f"{prev}{last_year}年{before.month}月{before.day}日").first == before
        with pytest.raises(ValueError, match="ended"):
            parse_date(f"{prev}{last_year}年{start.month}月{start.day}日")


def test_future_dates_are_told_apart():
    today = dt.date(2024, 6, 1)
    assert parse_date("2099-01-01").is_future(today)
    assert not parse_date("2024-06-01").is_future(today)
    assert not parse_date("2024年度").is_future(today)  # a fiscal year that has begun
    assert parse_date("2025年度").is_future(today)
