"""The benchmark's directory: users and groups derived from an index, the same on every run.

User ``i`` (0 <= i < N) always has the same attributes, so the harness can name a random existing
user (``userName`` of a random ``i``) without listing the directory, and a run at 100,000 users
extends the directory of a run at 10,000 instead of starting again. The data set's name (default
``bench``) is in every externalId, so that its users, its spare users and its groups can be
counted and found with a filter on any SCIM server.
"""

from __future__ import annotations

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

GIVEN_NAMES = (  # noqa: SIM905 (a list of names reads better as text)
    "Aaliyah Aaron Abigail Adam Ahmed Aiko Alejandro Alice Amara Ana Andrei Anil Beatriz "
    "Benjamin Carlos Chen Chloe Daniel David Diego Elena Emily Emma Ethan Fatima Felix Grace "
    "Hana Hannah Hiroshi Ibrahim Isabella Ivan James Javier Jin Julia Kai Karen Kwame Laura "
    "Leila Liam Lucas Maria Mateo Mei Mohammed Nadia Noah Olga Olivia Omar Priya Rafael Ravi "
    "Sara Sofia Tariq Thomas Valentina Wei Yuki Zainab Zoe"
).split()

# Four or five family names per initial letter, so that a ``name.familyName sw "X"`` filter
# selects a few percent of the directory for every letter.
FAMILY_NAMES = (  # noqa: SIM905 (a list of names reads better as text)
    "Abbott Acosta Adams Alvarez Anderson Baker Banerjee Bennett Brown Bui Campbell Chen Cohen "
    "Costa Cruz Davis Diaz Dubois Dunn Edwards Ellis Evans Eze Ferguson Fischer Flores Fujita "
    "Garcia Gonzalez Gray Gupta Hall Harris Hernandez Huang Ibrahim Ivanova Iyer Ishikawa "
    "Jackson Jensen Johnson Jones Kaur Kelly Kim Kowalski Lee Lewis Lopez Li Martin Martinez "
    "Miller Moore Nakamura Nguyen Nielsen Novak Obi O'Brien Okafor Olsen Park Patel Perez "
    "Petrov Quinn Quintero Qureshi Quispe Ramirez Reyes Roberts Rossi Sanchez Santos Schmidt "
    "Singh Smith Tanaka Taylor Thomas Torres Udeh Ueda Underwood Usman Valdez Vargas Vasquez "
    "Volkov Walker Wang Williams Wilson Xavier Xiong Xu Ximenez Yamada Yang Yilmaz Young "
    "Zapata Zhang Zhou Zimmerman"
).split()

TITLES = (
    "Software Engineer",
    "Senior Software Engineer",
    "Engineering Manager",
    "Product Manager",
    "Designer",
    "Data Analyst",
    "Account Executive",
    "Customer Success Manager",
    "Recruiter",
    "Accountant",
    "Support Specialist",
    "Marketing Manager",
    "Director",
    "Vice President",
)

DEPARTMENTS = (
    "Engineering",
    "Product",
    "Design",
    "Sales",
    "Marketing",
    "Finance",
    "People",
    "Support",
    "Legal",
    "Operations",
)

# The group sizes the group_add_* scenarios use; a group never has more members than the data
# set has users, so at --users 10000 the "100000" group has 10,000.
GROUP_SIZES = (10, 1_000, 100_000)
# Users outside every group, added to and removed from groups by the group scenarios (one per
# worker thread), so that an add is always a real add.
SPARE_USERS = 64


def _pick(options: tuple | list, i: int, salt: int) -> str:
    # A fixed scramble of the index: neighbouring users do not share names or departments.
    return options[(i * 2654435761 + salt * 40503) % 4294967291 % len(options)]


class Dataset:
    def __init__(self, name: str = "bench"):
        if not name.replace("-", "").isalnum():
            raise ValueError("the data set name is letters, digits and dashes")
        self.name = name

    # Users ---------------------------------------------------------------------------------------

    def user_external_id(self, i: int) -> str:
        return f"{self.name}-user-{i}"

    def user_index(self, external_id: str | None) -> int | None:
        prefix = f"{self.name}-user-"
        if external_id and external_id.startswith(prefix) and external_id[len(prefix) :].isdigit():
            return int(external_id[len(prefix) :])
        return None

    def user_prefix_filter(self) -> str:
        return f'externalId sw "{self.name}-user-"'

    def names(self, i: int) -> tuple[str, str]:
        return _pick(GIVEN_NAMES, i, 1), _pick(FAMILY_NAMES, i, 2)

    def user_name(self, i: int) -> str:
        given, family = self.names(i)
        local = f"{given}.{family}".lower().replace("'", "")
        return f"{local}.{i:06d}.{self.name}@example.com"

    def user(self, i: int) -> dict:
        given, family = self.names(i)
        user_name = self.user_name(i)
        emails = [{"value": user_name, "type": "work", "primary": True}]
        if i % 3 == 0:
            emails.append({"value": f"{given.lower()}{i}@home.example.org", "type": "home"})
        return {
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": user_name,
            "externalId": self.user_external_id(i),
            "name": {"givenName": given, "familyName": family, "formatted": f"{given} {family}"},
            "displayName": f"{given} {family}",
            "title": _pick(TITLES, i, 3),
            "active": True,
            "emails": emails,
            ENTERPRISE: {"employeeNumber": str(100_000 + i), "department": _pick(DEPARTMENTS, i, 4)},
        }

    # Spare users (members of no group) ----------------------------------------------------------

    def spare_external_id(self, k: int) -> str:
        return f"{self.name}-spare-{k}"

    def spare_prefix_filter(self) -> str:
        return f'externalId sw "{self.name}-spare-"'

    def spare(self, k: int) -> dict:
        user_name = f"spare.{k:03d}.{self.name}@example.com"
        return {
            "schemas": [USER_SCHEMA],
            "userName": user_name,
            "externalId": self.spare_external_id(k),
            "name": {"givenName": "Spare", "familyName": f"User {k}"},
            "displayName": f"Spare User {k}",
            "active": True,
            "emails": [{"value": user_name, "type": "work", "primary": True}],
        }

    # Users the mixed scenario creates (and deletes afterwards) --------------------------------

    def new_user(self, tag: str) -> dict:
        user_name = f"new.{tag}.{self.name}@example.com"
        return {
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": user_name,
            "externalId": f"{self.name}-new-{tag}",
            "name": {"givenName": "New", "familyName": "Hire"},
            "displayName": "New Hire",
            "title": "Software Engineer",
            "active": True,
            "emails": [{"value": user_name, "type": "work", "primary": True}],
            ENTERPRISE: {"department": "Engineering"},
        }

    # Groups ---------------------------------------------------------------------------------------

    def group_name(self, size: int) -> str:
        return f"{self.name}-group-{size}"

    def group_external_id(self, size: int, filled: int) -> str:
        """The group's externalId records how many data-set users (0..filled-1) are members, so a
        later run knows what is left to add without reading a 100,000-member group."""
        return f"{self.name}-group-{size}:filled={filled}"

    @staticmethod
    def filled_from_external_id(external_id: str | None) -> int:
        if external_id and ":filled=" in external_id:
            tail = external_id.rsplit(":filled=", 1)[1]
            if tail.isdigit():
                return int(tail)
        return 0
