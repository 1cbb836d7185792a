"""The SCIM 2.0 protocol (RFC 7643, RFC 7644, RFC 9865) on Django REST Framework."""
