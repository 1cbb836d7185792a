"""The database machinery around the ORM, below the domain: rows read without model instances
(``rows``), statements prepared once (``prepared``, ``literals``), writes that carry their audit
event (``audited_writes``), what is remembered between requests (``query_memory``, ``token_cache``,
``cache``), and SQL functions the ORM lacks (``functions``). Nothing here knows SCIM; models,
selectors and services build on it."""
