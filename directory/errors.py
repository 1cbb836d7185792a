"""What services refuse. The SCIM layer maps each to its status and scimType."""


class ServiceError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class DoesNotExist(ServiceError):
    """No such resource in this tenant (or it is deleted)."""


class AlreadyExists(ServiceError):
    """A value that must be unique is taken."""


class InvalidReference(ServiceError):
    """A reference (member, manager) names nothing in this tenant, or would form a cycle."""


class VersionMismatch(ServiceError):
    """The client's If-Match version is not the resource's current version."""


class InvalidIdentifier(ServiceError):
    """An identifier the directory does not accept: a userName RFC 8265 refuses (directory.identifiers)."""


class SchemaChanged(ServiceError):
    """The tenant's extension declarations changed after the request read them: the write was
    worked out against declarations that no longer hold, and must be worked out anew."""


class NotPermitted(ServiceError):
    """The person acting may not do this (a permission they lack, or four eyes: not the same
    person twice)."""


class NotAllowedNow(ServiceError):
    """What was asked cannot happen in the state the thing is in (a case's transition)."""
