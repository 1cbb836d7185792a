"""What the directory's services announce about users, inside the transaction of the write, so
that the apps above (``lifecycle``) act in that same transaction: a receiver that raises undoes
the write (all but ``user_deactivated``, below). Each is sent with ``tenant``, ``user_id``,
``user_name`` (as written), ``actor`` (``services.audit.Actor``) and ``at`` (the write's time).

- ``user_deactivated``: an active user was made inactive (``active`` false or unassigned). Sent
  after the write, which needs no transaction of its own: it is committed by then unless the
  caller holds one. The write left a ``PendingDeactivation`` row (an outbox) in its statement,
  from which the lifecycle opens the case; a receiver here acts on commit (ends sessions).
- ``user_activated``: an inactive user was made active.
- ``user_deleted``: a user was deleted by its identity provider (hidden: state ``deleted``), with
  ``groups``, the ids of the groups it was in until then.
- ``user_restored``: a deleted (not yet purged) user was created again by its identity provider (a
  rehire, by the same externalId or userName): the same row, visible again.
"""

from django.dispatch import Signal

user_deactivated = Signal()
user_activated = Signal()
user_deleted = Signal()
user_restored = Signal()
