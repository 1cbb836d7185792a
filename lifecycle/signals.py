"""What the lifecycle announces to the host application, in the transaction of the step that
takes effect (end sessions and API keys there, or with ``transaction.on_commit``). Each is sent
with ``tenant``, ``user_id`` and ``case`` (``lifecycle.models.OffboardingCase``).

- ``user_suspended``: an identity provider deprovisioned the user; access has ended. For a
  deactivation it is sent in the request, once the write has committed, with ``user_name`` and
  ``at`` and ``case`` None (a worker opens the case right after, from the directory's pending
  deactivation); for a DELETE, in its transaction, with the case.
- ``user_reactivated``: the user is active again (a rehire); its case is cancelled.
- ``user_deleted``: the user is deleted (hidden for good, restorable until the purge).
- ``user_purged``: the user's data is gone; only the case's tombstone remains.
- ``revoke_sessions``: sent by the ``revoke_sessions`` step, from a Celery worker, once access has
  ended: end the leaver's sessions and API keys (a receiver that raises has the step retried).
"""

from django.dispatch import Signal

user_suspended = Signal()
user_reactivated = Signal()
user_deleted = Signal()
user_purged = Signal()
revoke_sessions = Signal()
