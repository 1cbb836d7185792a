"""The HR list's filters (django-filter): due date, state, department, manager, tenant, hold, a
free-text search by name or email, and the order. A value the form refuses filters nothing and
is shown as the form's error."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import django_filters
from django import forms
from django.db.models import F, Q
from django.utils import timezone

from directory.models import Tenant
from lifecycle.hr.selectors import PENDING_STATES, cases_matching
from lifecycle.models import OPEN_STATES, CaseState

DUE_CHOICES = [
    ("overdue", "Overdue"),
    ("7", "Within 7 days"),
    ("30", "Within 30 days"),
    ("none", "No date (waits for a decision)"),
]
HOLD_CHOICES = [("yes", "On legal hold"), ("no", "Not on hold")]
SORTS: dict[str, tuple[Any, ...]] = {
    "due": (F("deletion_due_at").asc(nulls_last=True), "pk"),
    "-due": (F("deletion_due_at").desc(nulls_last=True), "-pk"),
    "name": ("sort_name", "pk"),
    "-name": ("-sort_name", "-pk"),
    "department": ("user__department", "sort_name", "pk"),
    "opened": ("deprovisioned_at", "pk"),
    "-opened": ("-deprovisioned_at", "-pk"),
}
SORT_CHOICES = [
    ("due", "Due first"),
    ("-due", "Due last"),
    ("name", "Name, A to Z"),
    ("-name", "Name, Z to A"),
    ("department", "Department"),
    ("opened", "Oldest first"),
    ("-opened", "Newest first"),
]


class CaseFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label="Name or email", max_length=200)
    state = django_filters.ChoiceFilter(
        choices=[(s.value, s.label) for s in CaseState if s in OPEN_STATES],
        method="filter_state",
        label="State",
        empty_label="All but deleted",
    )
    due = django_filters.ChoiceFilter(
        choices=DUE_CHOICES, method="filter_due", label="Due", empty_label="Any time"
    )
    due_before = django_filters.DateFilter(
        method="filter_due_before", label="Due on or before", widget=forms.DateInput(attrs={"type": "date"})
    )
    department = django_filters.CharFilter(
        field_name="user__department", lookup_expr="icontains", label="Department", max_length=200
    )
    manager = django_filters.CharFilter(method="filter_manager", label="Manager", max_length=200)
    tenant = django_filters.ModelChoiceFilter(
        queryset=Tenant.objects.none(), label="Tenant", empty_label="All my tenants"
    )
    hold = django_filters.ChoiceFilter(
        choices=HOLD_CHOICES, method="filter_hold", label="Hold", empty_label="Any"
    )
    sort = django_filters.ChoiceFilter(
        choices=SORT_CHOICES, method="filter_noop", label="Sort", empty_label=None, null_label=None
    )

    def __init__(self, data=None, *args, tenants=None, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.filters["tenant"].queryset = tenants if tenants is not None else Tenant.objects.none()
        self.form.fields["tenant"].queryset = self.filters["tenant"].queryset

    @property
    def qs(self):
        cases = super().qs
        if not self.form.is_valid() or not self.form.cleaned_data.get("state"):
            cases = cases.filter(state__in=PENDING_STATES)
        sort = (self.form.cleaned_data.get("sort") if self.form.is_valid() else "") or "due"
        return cases.order_by(*SORTS[sort])

    def filter_noop(self, cases, name, value):
        return cases

    def filter_text(self, cases, name, value):
        return cases_matching(cases, value)

    def filter_state(self, cases, name, value):
        return cases.filter(state=value) if value else cases

    def filter_due(self, cases, name, value):
        now = timezone.now()
        if value == "overdue":
            return cases.filter(deletion_due_at__lte=now)
        if value == "none":
            return cases.filter(deletion_due_at__isnull=True)
        return cases.filter(deletion_due_at__lte=now + timedelta(days=int(value)))

    def filter_due_before(self, cases, name, value):
        value = min(value, date(9998, 12, 31))  # year 10,000 is past what either database stores
        end = timezone.make_aware(datetime.combine(value, time.max))  # the reviewer's time zone
        return cases.filter(deletion_due_at__lte=end)

    def filter_manager(self, cases, name, value):
        value = value.strip()
        return cases.filter(
            Q(user__manager__display_name__icontains=value)
            | Q(user__manager__name_formatted__icontains=value)
            | Q(user__manager__user_name__icontains=value)
        )

    def filter_hold(self, cases, name, value):
        held = Q(state=CaseState.ON_HOLD)
        return cases.filter(held) if value == "yes" else cases.exclude(held)
