"""``attributes`` and ``excludedAttributes`` (RFC 7644 section 3.9), with the ``returned``
characteristic: ``always`` is always in, ``never`` never, ``request`` only when asked for."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from scim_api.errors import InvalidValue
from scim_api.schema import COMMON, AttributePath, ResourceType

MAX_PATHS = 100


@dataclass(frozen=True)
class Projection:
    resource_type: ResourceType
    attributes: tuple[AttributePath, ...] = ()
    excluded: tuple[AttributePath, ...] = ()

    # Whether ``attributes`` was given: it replaces the default set even when none of its names
    # is known (RFC 7644 section 3.9), leaving only what is returned always.
    restricted: bool = False

    @classmethod
    def of(cls, resource_type: ResourceType, params) -> Projection:
        """The projection a request's parameters ask for (a query string, or a .search body)."""
        return cls.from_params(resource_type, params.get("attributes"), params.get("excludedAttributes"))

    @classmethod
    def from_params(cls, resource_type: ResourceType, attributes: Any, excluded: Any) -> Projection:
        if isinstance(attributes, str | None) and isinstance(excluded, str | None):
            return _cached(resource_type, attributes, excluded)
        return cls._parsed(resource_type, attributes, excluded)

    @classmethod
    def _parsed(cls, resource_type: ResourceType, attributes: Any, excluded: Any) -> Projection:
        return cls(
            resource_type,
            _parse(resource_type, attributes, "attributes"),
            _parse(resource_type, excluded, "excludedAttributes"),
            restricted=bool(_names(attributes, "attributes")),
        )

    def includes(self, name: str) -> bool:
        """Whether a top-level core attribute is in the output: lets a view skip loading it
        (``excludedAttributes=members`` never reads the member list)."""
        attribute = self.resource_type.schema.attribute(name) or COMMON.attribute(name)
        if attribute is None or attribute.returned == "never":
            return False
        if attribute.returned == "always":
            return True
        if self.restricted:
            return any(p.attribute is attribute for p in self.attributes)
        if attribute.returned == "request":
            return False
        return not any(p.attribute is attribute and p.sub_attribute is None for p in self.excluded)

    def apply(self, doc: dict[str, Any]) -> dict[str, Any]:
        if self.keeps_everything:
            return doc
        out: dict[str, Any] = {}
        for key, value in doc.items():
            if key == "schemas":
                out[key] = value
                continue
            extension = self.resource_type.extension(key)
            if extension is not None:
                kept = {
                    name: v
                    for name, v in (
                        (n, self._project(extension, extension.attribute(n), v)) for n, v in value.items()
                    )
                    if v is not None
                }
                if kept:
                    out[key] = kept
                continue
            schema = self.resource_type.schema
            attribute = schema.attribute(key) or COMMON.attribute(key)
            projected = self._project(schema, attribute, value)
            if projected is not None:
                out[key] = projected
        return out

    def _project(self, schema, attribute, value):
        if attribute is None:
            return None
        rule = self._rules.get(id(attribute))
        if rule is None:
            rule = self._rules[id(attribute)] = self._rule(attribute)
        kind, names = rule
        if kind == "keep":
            return value
        if kind == "drop":
            return None
        return _without_subs(value, names) if kind == "without" else _only_subs(value, names)

    @cached_property
    def keeps_everything(self) -> bool:
        """Whether ``apply`` returns documents as they are: no attributes or excludedAttributes,
        and no attribute or sub-attribute of the type is returned only on request (a user's are
        not; a group's members.display is). ``returned: never`` attributes are never in the
        documents rendered (storage leaves them out)."""
        if self.restricted or self.excluded:
            return False
        attributes = [a for s in (*self.resource_type.schemas, COMMON) for a in s.attributes]
        return all(a.returned == "never" or self._rule(a)[0] == "keep" for a in attributes)

    @cached_property
    def _rules(self) -> dict[int, tuple[str, set[str]]]:
        """What ``_rule`` decided for each attribute met so far (a page renders each many times)."""
        return {}

    def _rule(self, attribute) -> tuple[str, set[str]]:
        """How this projection shows an attribute, whatever its value: ``keep``, ``drop``, or keep
        it ``without`` some sub-attributes, or ``only`` some."""
        if attribute.returned == "never":
            return ("drop", set())
        if attribute.returned == "always":
            return ("keep", set())
        requested = {
            p.sub_attribute.name for p in self.attributes if p.attribute is attribute and p.sub_attribute
        }
        hidden = {
            sub.name
            for sub in attribute.sub_attributes
            if sub.returned == "never" or (sub.returned == "request" and sub.name not in requested)
        }
        if self.restricted:
            paths = [p for p in self.attributes if p.attribute is attribute]
            if not paths:
                return ("drop", set())
            if any(p.sub_attribute is None for p in paths):
                return ("without", hidden) if hidden else ("keep", set())
            return ("only", requested)
        if attribute.returned == "request":
            return ("drop", set())
        paths = [p for p in self.excluded if p.attribute is attribute]
        if any(p.sub_attribute is None for p in paths):
            return ("drop", set())
        hidden |= {p.sub_attribute.name for p in paths if p.sub_attribute}
        return ("without", hidden) if hidden else ("keep", set())


@lru_cache(maxsize=256)
def _cached(resource_type: ResourceType, attributes: str | None, excluded: str | None) -> Projection:
    """Projections of query parameters, kept per resource type (hashed by identity: a tenant's
    type is one object while its declarations last): most requests give none, or the same few,
    and a projection remembers what it decided for each attribute (``_rules``)."""
    return Projection._parsed(resource_type, attributes, excluded)


def _only_subs(value, names: set[str]):
    def pick(item):
        kept = {k: v for k, v in item.items() if k in names}
        return kept or None

    if isinstance(value, list):
        items = [kept for kept in map(pick, value) if kept]
        return items or None
    return pick(value) if isinstance(value, dict) else value


def _without_subs(value, names: set[str]):
    def drop(item):
        kept = {k: v for k, v in item.items() if k not in names}
        return kept or None

    if isinstance(value, list):
        items = [kept for kept in map(drop, value) if kept]
        return items or None
    return drop(value) if isinstance(value, dict) else value


def _names(raw: Any, label: str) -> list[str]:
    if raw in (None, ""):
        return []
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        names = raw
    elif isinstance(raw, str):
        names = raw.split(",")
    else:
        raise InvalidValue(
            f'"{label}" must be a comma-separated list of attribute names (or, in a search request, '
            "a list of them)."
        )
    return [name.strip() for name in names if name.strip()]


def _parse(resource_type: ResourceType, raw: Any, label: str) -> tuple[AttributePath, ...]:
    names = _names(raw, label)
    if len(names) > MAX_PATHS:
        raise InvalidValue(f'"{label}" names {len(names)} attributes; the limit is {MAX_PATHS}.')
    paths: list[AttributePath] = []
    for name in names:
        extension = resource_type.extension(name)
        if extension is not None:  # a whole extension schema: every one of its attributes
            paths.extend(AttributePath(extension, a, in_extension=True) for a in extension.attributes)
            continue
        path = resource_type.resolve(name)
        # An unknown name selects nothing (RFC 7644 section 3.9 defines no error for it): an IdP
        # asking for an attribute we do not have gets the resource without it.
        if path is not None:
            paths.append(path)
    return tuple(paths)
