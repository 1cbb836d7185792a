"""Pieces shared by the directory's models."""

import uuid
from typing import overload

import uuid_utils.compat
from django.db import models
from django.utils import timezone


def new_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): unique without coordination, and sorted by creation time, so that
    ordering by primary key is creation order and new rows land at the end of the index."""
    return uuid_utils.compat.uuid7()


@overload
def casefold_key(value: str) -> str: ...
@overload
def casefold_key(value: None) -> None: ...
def casefold_key(value: str | None) -> str | None:
    """The form in which case-insensitive (``caseExact: false``) strings are stored and compared.

    Python's casefold, not the database's LOWER(): SQLite's LOWER() only folds ASCII, so folding
    in one place gives the same matches on both databases.
    """
    return None if value is None else value.casefold()


class Versioned(models.Model):
    """Creation and modification times and the ``meta.version`` counter of a SCIM resource.

    Every write increments ``version`` (in SQL, ``version = version + 1``), so the weak ETag
    ``W/"<version>"`` changes with every change and concurrent writers never reuse a number.
    """

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    version = models.PositiveBigIntegerField(default=1, editable=False)

    class Meta:
        abstract = True

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'
