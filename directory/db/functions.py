"""Database functions the ORM lacks."""

from django.db.models import CharField, Func

from directory.models.base import casefold_key


class CaseFold(Func):
    """Python's ``str.casefold`` on SQLite, whose LOWER() and LIKE fold ASCII letters only, so that
    case-insensitive attributes without a casefolded column match as on PostgreSQL (``ÉLODIE``
    equals ``élodie``). The function is registered on the connection the query runs on."""

    function = "roster_casefold"
    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra_context):
        connection.ensure_connection()
        connection.connection.create_function(self.function, 1, casefold_key, deterministic=True)
        return super().as_sql(compiler, connection, **extra_context)
