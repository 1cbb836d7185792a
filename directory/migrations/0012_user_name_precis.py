"""userName keys by RFC 8265 (``directory.identifiers``), and the emails' keys alike.

Until now a user's ``user_name_key`` was its userName casefolded, so a fullwidth, decomposed (NFD)
or zero-width-spaced copy of a name was a second account. Every user's key is recomputed, and each
email's ``value_key``; where live users of one tenant now share a key, all but one are hidden
behind it (``directory.user_names``: not merged, names unchanged, an audit event each), and they
are printed with the users whose userName the rule refuses, which ``manage.py
user_name_conflicts`` lists again at any time.

In batches of 2,000 users (a read per batch, and an UPDATE per batch of rows whose key changes):
110,000 users of which 10,000 change took 5 s on SQLite and 11 s on PostgreSQL on a development
machine (two shared cores). Going back restores the casefolded keys; the audit events stay (the
trail is append-only).
"""

from django.db import migrations

from directory.user_names import describe, user_name_findings, user_names_rekey, user_values_rekey

ACTOR = "migration 0012_user_name_precis"


def forwards(apps, schema_editor):
    User = apps.get_model("directory", "User")
    hidden = user_names_rekey(User, apps.get_model("directory", "AuditEvent"), actor_label=ACTOR)
    user_values_rekey(apps.get_model("directory", "UserValue"))
    findings = user_name_findings(User)
    if findings:
        print(f"\n  {ACTOR}: {len(findings)} userName(s) need an administrator ({hidden} hidden now):")
        for line in describe(findings):
            print(f"    {line}")


def backwards(apps, schema_editor):
    User = apps.get_model("directory", "User")
    user_names_rekey(User, apps.get_model("directory", "AuditEvent"), actor_label=ACTOR, key=str.casefold)
    user_values_rekey(apps.get_model("directory", "UserValue"), key=str.casefold)


class Migration(migrations.Migration):
    dependencies = [("directory", "0011_user_writes_in_place")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
