"""Indexes that let a filtered page test each user without reading rows (PostgreSQL INCLUDE;
elsewhere plain indexes on the key columns).

- user_visible_by_id also holds name_family_name: "familyName sw" over users in id order.
- user_value_by_user (user_id, attribute) holds tenant_id, type and value_key: the per-user probe
  of an element filter (emails[type eq "work" and value co "x"]). It leads with user_id, so it
  replaces the foreign key's own index on it.

At 100,000 users the complex filter's page statement went from 8.9 ms to 3.1 ms (EXPLAIN ANALYZE).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0006_family_name_prefix_index"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="user",
            name="user_visible_by_id",
        ),
        migrations.AlterField(
            model_name="uservalue",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="values",
                to="directory.user",
            ),
        ),
        migrations.AddIndex(
            model_name="user",
            index=models.Index(
                condition=models.Q(("state", "deleted"), _negated=True),
                fields=["tenant", "id"],
                include=("name_family_name",),
                name="user_visible_by_id",
            ),
        ),
        migrations.AddIndex(
            model_name="uservalue",
            index=models.Index(
                fields=["user", "attribute"],
                include=("tenant", "type", "value_key"),
                name="user_value_by_user",
            ),
        ),
    ]
