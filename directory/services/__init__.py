"""Writes to directory data. Each service takes the tenant and the acting party as keyword
arguments, runs in one transaction, and records its AuditEvent in that transaction."""
