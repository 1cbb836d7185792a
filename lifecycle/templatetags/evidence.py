"""How the evidence pack's pages say a duration: "0 s", "12 min", "24 h", "26 h 05 min", "3 d 4 h"
(hours up to two days, since an SLA is usually said in hours); "—" for none."""

from __future__ import annotations

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    if value < timedelta(0):
        return "-" + duration(-value)  # access recorded as ended before the deprovision: say so
    seconds = round(value.total_seconds())
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    if seconds < 60:
        return f"{second} s"
    if seconds < 3600:
        return f"{minutes} min" + (f" {second:02d} s" if second else "")
    if seconds < 48 * 3600:
        return f"{hours} h" + (f" {minute:02d} min" if minute else "")
    return f"{days} d" + (f" {hour} h" if hour else "")
