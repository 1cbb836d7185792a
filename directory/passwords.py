"""How passwords are hashed: Argon2id at OWASP's minimum cost, which an IdP's bulk sync can afford.

Identity providers set passwords in bulk (Okta's password sync sends one with every create, and
with every profile push, whose no-op check must verify it). Django's default, PBKDF2-SHA256 at a
million iterations, takes half a second per password here: a /Bulk of 1,000 Okta creates would
spend eight minutes hashing, far past any IdP's timeout. Argon2id with the parameters OWASP's
Password Storage Cheat Sheet gives as its first recommended configuration (19 MiB of memory, 2
iterations, 1 lane) takes a few tens of milliseconds and, being memory-hard, costs a GPU attacker
more per guess than PBKDF2 does. Hashes made with other parameters or hashers (PBKDF2, an admin's
older password) still verify, and are re-hashed at the next successful check (Django's
``must_update``).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idPasswordHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
