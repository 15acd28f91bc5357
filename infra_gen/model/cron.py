"""Cron schedules: five fields, each checked against cron's own ranges and names."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from .checks import Doc, located, shown

# -- cron ---------------------------------------------------------------------------
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...], int], ...] = (
    # name, lowest, highest, names, value of the first name
    ("minute", 0, 59, (), 0),
    ("hour", 0, 23, (), 0),
    ("day of month", 1, 31, (), 0),
    ("month", 1, 12, _MONTHS, 1),
    ("day of week", 0, 7, _DAYS, 0),
)
CRON_MACROS = ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually")


def _cron_value(text: str, name: str, low: int, high: int, names: tuple[str, ...],
                first: int) -> int:
    if text.lower() in names:
        return names.index(text.lower()) + first
    if not text.isdigit() or len(text) > 2 or not low <= int(text) <= high:
        raise ValueError(f"{name} {text!r} is not in {low}-{high}")
    return int(text)


def _cron_field(text: str, spec: tuple[str, int, int, tuple[str, ...], int]) -> None:
    name, low, high, names, first = spec
    for item in text.split(","):
        base, _, step = item.partition("/")
        if step and (not step.isdigit() or len(step) > 2 or not 1 <= int(step) <= high):
            raise ValueError(f"{name} step {step!r} is not in 1-{high}")
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        lo = _cron_value(start, name, low, high, names, first)
        if dash and lo > _cron_value(end, name, low, high, names, first):
            raise ValueError(f"{name} range {base!r} runs backwards")


def _cron(value: str) -> str:
    if value in CRON_MACROS:
        return value
    fields = value.split(" ")
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields separated by single spaces (or {CRON_MACROS[1]}...), "
                         f"got {shown(value)}")
    for text, spec in zip(fields, _CRON_FIELDS, strict=True):
        try:
            _cron_field(text, spec)
        except ValueError as exc:
            raise ValueError(f"{exc} in cron schedule {shown(value)}") from None
    return value


CronSchedule = Annotated[
    str,
    StringConstraints(max_length=100, pattern=r"^(@[a-z]+|[0-9A-Za-z*/,-]+( [0-9A-Za-z*/,-]+){4})$"),
    AfterValidator(located(_cron)),
    Doc("A cron schedule: 5 fields (minute hour day-of-month month day-of-week; "
        "numbers, names, *, ranges, steps and lists) or a macro such as @daily."),
]
