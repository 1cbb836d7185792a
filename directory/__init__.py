"""Roster's Django project and the directory's data: tenants, tokens, users, groups, audit."""

from directory.celery import app as celery_app

__all__ = ("celery_app",)
