"""What the HR screen reads: the cases a person may review (their tenants' only), one case with
what goes with it, and a page of a list that stays cheap at 10,000 open cases (a bounded page,
a count capped where an estimate serves)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Lower, NullIf

from directory.models import Group, UserValue
from directory.models.base import casefold_key
from lifecycle.models import OPEN_STATES, CaseState, OffboardingCase
from lifecycle.reviewers import reviewer_tenant_ids

# The list's default: open cases still to decide or to carry out (a deleted case waits only for
# its purge; the state filter shows those too).
PENDING_STATES = tuple(s for s in OPEN_STATES if s != CaseState.DELETED)
PAGE_SIZE = 50
COUNT_CAP = 10_000  # beyond this the list says "more than 10,000" instead of counting them all
DEPARTMENTS_SECONDS = 300


def cases_reviewable(user) -> QuerySet[OffboardingCase]:
    """Every case ``user`` may see on the HR screen: all tenants' for an administrator, its
    assigned tenants' for a reviewer, none for anyone else."""
    tenant_ids = reviewer_tenant_ids(user)
    cases = OffboardingCase.objects.all()
    if tenant_ids is not None:
        cases = cases.filter(tenant_id__in=tenant_ids)
    return cases


def cases_listed(cases: QuerySet[OffboardingCase]) -> QuerySet[OffboardingCase]:
    """``cases`` with what a row of the list shows, read in the same query."""
    return cases.select_related(
        "tenant", "user", "user__manager", "burst", "held_by", "first_approved_by", "data_successor"
    ).annotate(sort_name=person_sort_name())


def person_sort_name():
    """The name a person is listed by: displayName, else the formatted name, else userName."""
    return Lower(
        Coalesce(
            NullIf(F("user__display_name"), Value("")),
            NullIf(F("user__name_formatted"), Value("")),
            F("user__user_name"),
        )
    )


def cases_matching(cases: QuerySet[OffboardingCase], text: str) -> QuerySet[OffboardingCase]:
    """Cases whose person's name, userName or an email contains ``text`` (case-insensitive, as
    SCIM compares them: casefolded keys where the directory keeps them)."""
    key = casefold_key(text.strip())
    if not key:
        return cases
    email = UserValue.objects.filter(user_id=OuterRef("user_id"), attribute="emails", value_key__contains=key)
    return cases.filter(
        Q(user__user_name_key__contains=key)
        | Q(user__display_name_key__contains=key)
        | Q(user__name_formatted__icontains=text.strip())
        | Q(user__name_given_name__icontains=text.strip())
        | Q(user__name_family_name__icontains=text.strip())
        | Exists(email)
    )


@dataclass(frozen=True)
class Page:
    items: list[Any]
    number: int
    has_next: bool
    count: int  # at most cap + 1
    size: int
    cap: int

    @property
    def count_capped(self) -> bool:
        return self.count > self.cap

    @property
    def pages(self) -> int:
        return max(1, -(-min(self.count, self.cap) // self.size))

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.size + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return (self.number - 1) * self.size + len(self.items)


def page_of(cases: QuerySet, number: int) -> Page:
    """One page of ``cases`` (ordered): three bounded queries, the page's ids (one more, to know
    whether a next page exists), their rows, and a count that stops at COUNT_CAP + 1."""
    number, size = max(1, number), PAGE_SIZE
    # The page's ids first, then its rows by id: the database joins the six tables the list shows
    # to 51 cases, not to every case the OFFSET skips (47 ms against 5 at page 100 of 10,000).
    ids = list(cases.values_list("pk", flat=True)[(number - 1) * size : number * size + 1])
    found = cases.in_bulk(ids[:size]) if ids else {}
    count = cases.order_by().values("pk")[: COUNT_CAP + 1].count()
    # A case that left the filter between the two reads (the sweep deleted it) is left out.
    rows = [found[pk] for pk in ids[:size] if pk in found]
    return Page(rows, number, len(ids) > size, count, size, COUNT_CAP)


def case_reviewable(user, case_id: int) -> OffboardingCase | None:
    """One case ``user`` may see, with what its page shows, or None (no such case, or another
    tenant's: the two are not told apart)."""
    return cases_listed(cases_reviewable(user)).filter(pk=case_id).first()


def case_leaving(case: OffboardingCase) -> dict[str, list[str]]:
    """What the person loses: the groups it is in (or was in when hidden, kept to restore a
    rehire) and its entitlements."""
    user = case.user
    if user is None:
        return {"groups": [], "entitlements": []}
    group_ids = list(user.memberships.values_list("group_id", flat=True)) or case.restore.get("groups", [])
    groups = sorted(
        Group.objects.filter(pk__in=group_ids).values_list("display_name", flat=True), key=str.casefold
    )
    entitlements = [
        str(e.get("value") or e.get("display") or "") for e in user.entitlements if isinstance(e, dict)
    ]
    return {"groups": groups, "entitlements": [e for e in entitlements if e]}


def cases_departments(user, limit: int = 200) -> list[str]:
    """The departments of the leavers ``user`` may see, for the department filter's suggestions:
    kept DEPARTMENTS_SECONDS in the cache (per set of tenants), since finding them joins every
    open case to its user (85 ms at 10,000 cases: the list's whole budget), and a suggestion a
    few minutes old serves."""
    tenant_ids = reviewer_tenant_ids(user)
    key = "hr:departments:" + ("all" if tenant_ids is None else ",".join(map(str, sorted(tenant_ids))))

    def find() -> list[str]:
        return list(
            cases_reviewable(user)
            .filter(state__in=OPEN_STATES)
            .exclude(user__department="")
            .order_by("user__department")
            .values_list("user__department", flat=True)
            .distinct()[:limit]
        )

    return cache.get_or_set(key, find, DEPARTMENTS_SECONDS) or []
