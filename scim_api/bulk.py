"""SCIM Bulk (RFC 7644 section 3.7): many POST/PUT/PATCH/DELETE operations in one request.

How a bulk request runs:

* The whole request is checked first (its shape, ``maxOperations``, ``failOnErrors``, unique
  ``bulkId`` values); a failure there is one error for the request and nothing is applied.
* Each operation is then checked on its own (method, path, data, version); an operation that
  does not fit fails alone, with a 400 naming what is wrong, and the others still run.
* ``bulkId:<id>`` anywhere in an operation (its path, any string in its data: member values,
  ``manager.value``, ``$ref`` URLs, PATCH paths) names the resource created by the POST with that
  bulkId, and is replaced by that resource's id before the operation runs. References may point
  forward: operations run in dependency order, in the client's order otherwise (a ready operation
  with the lowest index runs next), and operations on the same existing resource keep their
  relative order. An operation waits for the POSTs it references; if such a POST failed, the
  reference cannot be resolved and the operation fails with 400 invalidValue, as a single request
  naming a resource that does not exist would.
* Circular references (RFC 7644 section 3.7.1) cannot all be created first: the operations on
  the cycle fail with 409 and a detail naming the cycle. (Roster does not create one side without
  its reference and patch it afterwards: that would apply half of an operation, and the usual
  cycle, groups containing each other, is refused by the directory anyway.)
* Each operation runs in its own savepoint: a failing operation leaves nothing of itself behind
  and undoes nothing of the others. Bulk is not atomic. Operations commit in batches
  (``_Batches``: up to BATCH_OPERATIONS operations or BATCH_SECONDS, whichever comes first), so
  that 1,000 creates cost a few commits rather than 1,000 (each a flush of the database's log to
  disk). The response is sent after the last commit: an operation reported as done is committed;
  should a commit fail, the request fails, and a retry finds what earlier batches created (409).
* ``failOnErrors``: processing stops once that many operations have failed; the response lists
  the operations processed so far, in the client's order.

The response carries, per operation, ``method``, ``bulkId``, ``location``, ``version`` and
``status`` (a string, as in section 3.7.3), and the SCIM Error document as ``response`` for a
failure; successful operations carry no resource body (the RFC lets the server omit it), so no
resource is rendered.
"""

from __future__ import annotations

import heapq
import logging
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from directory.errors import ServiceError
from directory.identifiers import parse_id
from directory.services.audit import Actor
from directory.services.locks import transaction_conflict
from scim_api.bindings import BY_ENDPOINT
from scim_api.errors import (
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    PayloadTooLarge,
    PreconditionFailed,
    ScimError,
    error_document,
    scim_error_of,
)
from scim_api.etags import NO_VERSION, expected_version
from scim_api.resources import RESOURCES, with_current_schemas
from scim_api.schema import BULK_REQUEST, BULK_RESPONSE

logger = logging.getLogger(__name__)

PREFIX = "bulkId:"
METHODS = ("POST", "PUT", "PATCH", "DELETE")
SUCCESS_STATUS = {"POST": 201, "PUT": 200, "PATCH": 200, "DELETE": 204}
_OPERATION_KEYS = {
    "method": "method",
    "bulkid": "bulkId",
    "version": "version",
    "path": "path",
    "data": "data",
}
_REQUEST_KEYS = {"schemas", "operations", "failonerrors"}
_ENDPOINTS = "|".join(re.escape(endpoint) for endpoint in BY_ENDPOINT)
_PATH = re.compile(rf"^/?(?P<endpoint>{_ENDPOINTS})(?:/(?P<id>[^/?#]+))?/?$")
_TARGETS = ", ".join(f"/{e}" for e in BY_ENDPOINT) + ", " + ", ".join(f"/{e}/{{id}}" for e in BY_ENDPOINT)
MAX_BULK_ID_LENGTH = 200
# A bulkId inside a longer string ends at the first separator (or after more characters than a
# bulkId may have, which then names no bulkId).
_TOKEN = re.compile(rf"[^\s\"'/\\\[\](){{}}<>?#&,;=]{{0,{MAX_BULK_ID_LENGTH + 1}}}")


def max_operations() -> int:
    return settings.SCIM_BULK_MAX_OPERATIONS


def max_payload_bytes() -> int:
    return settings.SCIM_BULK_MAX_PAYLOAD_BYTES


def read_body(request) -> Any:
    """The parsed body; an oversized one is the 413 of RFC 7644 section 3.7.4, naming the limit."""
    try:
        return request.data
    except PayloadTooLarge:
        raise PayloadTooLarge(
            f"The size of the bulk operation exceeds the maxPayloadSize ({max_payload_bytes()})."
        ) from None


@dataclass(eq=False)
class Operation:
    """One operation of a bulk request, as parsed, and then its outcome."""

    index: int
    method: str | None = None  # upper-cased when it is a string, for the response
    bulk_id: str | None = None
    version: str | None = None
    endpoint: str | None = None  # a binding's endpoint: "Users", "Groups"
    target: str | None = None  # the id in the path, possibly "bulkId:<id>"
    data: Any = None
    error: ScimError | None = None  # found while parsing: the operation fails without running
    references: set[str] = field(default_factory=set)  # bulkIds it names (path and data)
    unknown: list[str] = field(default_factory=list)  # bulkIds it names that no POST defines
    # Outcome
    done: bool = False
    status: int | None = None
    resource_id: str | None = None
    result_version: str | None = None
    response: dict | None = None

    @property
    def label(self) -> str:
        return f"Operations[{self.index}]"

    @property
    def failed(self) -> bool:
        return self.response is not None

    def fail(self, status: int, detail: str, scim_type: str | None = None) -> None:
        self.status, self.response = status, error_document(status, detail, scim_type)

    def result(self, base_url: str) -> dict:
        out: dict[str, Any] = {}
        if self.resource_id is not None and self.endpoint:
            out["location"] = f"{base_url}/{self.endpoint}/{self.resource_id}"
        if self.method is not None:
            out["method"] = self.method
        if self.bulk_id is not None:
            out["bulkId"] = self.bulk_id
        if self.result_version is not None:
            out["version"] = self.result_version
        out["status"] = str(self.status)
        if self.response is not None:
            out["response"] = self.response
        return out


@dataclass
class BulkRequest:
    operations: list[Operation]
    fail_on_errors: int | None


def _lowered(item: dict, label: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for key, value in item.items():
        lowered = key.lower()
        if lowered in seen:
            raise InvalidSyntax(f'{label}: "{key}" and "{seen[lowered]}" name the same attribute.')
        seen[lowered] = key
        out[lowered] = value
    return out


def parse_request(body: Any) -> BulkRequest:
    """The request as operations, or a ScimError for the request as a whole."""
    if not isinstance(body, dict):
        raise InvalidSyntax("A bulk request must be a JSON object with Operations.")
    fields = _lowered(body, "The bulk request")
    unknown = [key for key in body if key.lower() not in _REQUEST_KEYS]
    if unknown:
        raise InvalidSyntax(
            f"Unknown bulk request attribute(s): {', '.join(unknown)}; "
            "a BulkRequest has schemas, failOnErrors and Operations."
        )
    schemas = fields.get("schemas")
    if schemas is not None:  # required by RFC 7643 section 3, but carries nothing we need; tolerated
        if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
            raise InvalidSyntax('"schemas" must be a list of schema URNs.')
        if BULK_REQUEST.lower() not in {s.lower() for s in schemas}:
            raise InvalidValue(f'"schemas" must be ["{BULK_REQUEST}"]; got {schemas}.')
    raw = fields.get("operations")
    if not isinstance(raw, list) or not raw:
        raise InvalidSyntax('"Operations" must be a non-empty list of operations.')
    limit = max_operations()
    if len(raw) > limit:
        raise PayloadTooLarge(
            f"The bulk request has {len(raw)} operations, which exceeds the maxOperations ({limit})."
        )
    fail_on_errors = fields.get("failonerrors")
    if fail_on_errors is not None and (
        not isinstance(fail_on_errors, int) or isinstance(fail_on_errors, bool) or fail_on_errors < 1
    ):
        raise InvalidValue(f'"failOnErrors" must be a positive integer; got {fail_on_errors!r}.')

    operations = [_parse_operation(index, item) for index, item in enumerate(raw)]

    first_use: dict[str, Operation] = {}
    for op in operations:
        if op.bulk_id is None:
            continue
        if op.bulk_id in first_use:
            raise InvalidValue(
                f'bulkId "{op.bulk_id}" is used by {first_use[op.bulk_id].label} and {op.label}; '
                "each bulkId must be unique within a bulk request."
            )
        first_use[op.bulk_id] = op

    created = {op.bulk_id: op for op in operations if op.bulk_id is not None and op.method == "POST"}
    for op in operations:
        if op.error is None:
            _collect_references(op, created, first_use)
    return BulkRequest(operations, fail_on_errors)


def _parse_operation(index: int, item: Any) -> Operation:
    op = Operation(index)
    try:
        _fill(op, item)
    except ScimError as error:
        op.error = error
    return op


def _fill(op: Operation, item: Any) -> None:
    label = op.label
    if not isinstance(item, dict):
        raise InvalidSyntax(f"{label} must be an object with method, path and data.")
    fields = _lowered(item, label)
    # method and bulkId first, so that even a refused operation can be matched in the response.
    method = fields.get("method")
    if isinstance(method, str):
        op.method = method.upper()
    bulk_id = fields.get("bulkid")
    if bulk_id is not None:
        if not isinstance(bulk_id, str) or not bulk_id:
            raise InvalidSyntax(f"{label}.bulkId must be a non-empty string; got {bulk_id!r}.")
        op.bulk_id = bulk_id
        if len(bulk_id) > MAX_BULK_ID_LENGTH:
            raise InvalidValue(f"{label}.bulkId is longer than {MAX_BULK_ID_LENGTH} characters.")
    unknown = [key for key in item if key.lower() not in _OPERATION_KEYS]
    if unknown:
        raise InvalidSyntax(
            f"{label}: unknown attribute(s) {', '.join(unknown)}; an operation has "
            "method, path, bulkId, version and data."
        )
    if op.method not in METHODS:
        raise InvalidSyntax(f"{label}.method must be POST, PUT, PATCH or DELETE; got {method!r}.")

    path = fields.get("path")
    if not isinstance(path, str) or not path.strip():
        raise InvalidSyntax(f"{label}.path is required: a string such as /Users or /Users/{{id}}.")
    match = _PATH.match(path.strip())
    if match is None:
        raise InvalidPath(f"{label}.path {path!r} is not a bulk target: use {_TARGETS}.")
    op.endpoint, op.target = match.group("endpoint"), match.group("id")
    if op.target is not None and not op.target.startswith(PREFIX):
        op.resource_id = op.target  # the location of the response, even if the operation fails
    if op.method == "POST" and op.target is not None:
        raise InvalidPath(f"{label}: POST creates a resource at {op.endpoint}, not at {path!r}.")
    if op.method != "POST" and op.target is None:
        raise InvalidPath(f"{label}: {op.method} needs the path of one resource, /{op.endpoint}/{{id}}.")

    version = fields.get("version")
    if version is not None and not isinstance(version, str):
        raise InvalidSyntax(f'{label}.version must be a string, an entity tag like W/"3"; got {version!r}.')
    op.version = version if op.method != "POST" else None  # a new resource has no version to match

    data = fields.get("data")
    if op.method == "DELETE":
        if data is not None:
            raise InvalidValue(f"{label}: DELETE takes no data.")
    elif data is None:
        raise InvalidSyntax(
            f"{label}.data is required for {op.method}: the body of a single "
            f"{op.method} to {'/' + op.endpoint if op.method == 'POST' else path.strip()}."
        )
    elif not isinstance(data, dict):
        raise InvalidSyntax(f"{label}.data must be a JSON object; got {type(data).__name__}.")
    op.data = data


# --- bulkId references -----------------------------------------------------------------------------


def _spans(text: str, known) -> list[tuple[int, int, str, bool]]:
    """Every "bulkId:<id>" in ``text``: (start, end, id, whether ``known`` has it). A whole
    string "bulkId:<id>" names any bulkId; inside a longer string (a $ref URL, a PATCH path
    filter) the id runs up to the next separator (quote, slash, bracket, space, ...). Linear in
    the length of ``text``."""
    if text.startswith(PREFIX) and text[len(PREFIX) :] in known:
        return [(0, len(text), text[len(PREFIX) :], True)]
    found = []
    position = text.find(PREFIX)
    while position != -1:
        begin = position + len(PREFIX)
        match = _TOKEN.match(text, begin)
        assert match is not None  # it matches the empty string too
        token = match.group(0)
        found.append((position, begin + len(token), token, token in known))
        position = text.find(PREFIX, begin + len(token))
    return found


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _collect_references(op: Operation, created: dict[str, Operation], named: dict[str, Operation]) -> None:
    texts = [op.target] if op.target and op.target.startswith(PREFIX) else []
    texts += [text for text in _strings(op.data) if PREFIX in text]
    for text in texts:
        for _, _, bulk_id, known in _spans(text, created):
            if known:
                op.references.add(bulk_id)
            elif bulk_id not in op.unknown:
                op.unknown.append(bulk_id)
    if op.unknown:
        reasons = []
        for bulk_id in op.unknown:
            other = named.get(bulk_id)
            if other is not None:
                reasons.append(
                    f"bulkId:{bulk_id} names {other.label}, a {other.method or 'invalid operation'}; "
                    "only a POST's bulkId stands for a resource"
                )
            else:
                reasons.append(f"bulkId:{bulk_id} is not the bulkId of any POST in this request")
        op.error = InvalidValue(f"{op.label}: {'; '.join(reasons)}.")


def _substitute(value: Any, known, ids: dict[str, str]) -> Any:
    """``value`` with each "bulkId:<id>" replaced by the created resource's id. ``known`` are the
    request's POST bulkIds (found as when the references were collected); ``ids`` must hold an id
    for each one ``value`` names."""
    if isinstance(value, str):
        if PREFIX not in value:
            return value
        out, last = [], 0
        for start, end, bulk_id, _ in _spans(value, known):
            out += [value[last:start], ids[bulk_id]]
            last = end
        return "".join(out) + value[last:]
    if isinstance(value, dict):
        return {key: _substitute(item, known, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, known, ids) for item in value]
    return value


# --- Running ---------------------------------------------------------------------------------------


class BulkProcessor:
    def __init__(self, *, tenant, actor: Actor, base_url: str):
        self.tenant = tenant
        self.actor = actor
        self.base_url = base_url
        self.ids: dict[str, str] = {}  # bulkId -> id of the resource its POST created
        self.created: dict[str, Operation] = {}  # bulkId -> its POST

    def run(self, request: BulkRequest) -> dict:
        operations = request.operations
        with _Batches() as self.batches:
            processed = self._schedule(operations, request.fail_on_errors)
        return {
            "schemas": [BULK_RESPONSE],
            "Operations": [op.result(self.base_url) for op in sorted(processed, key=lambda o: o.index)],
        }

    def _schedule(self, operations: list[Operation], fail_on_errors: int | None) -> list[Operation]:
        """Run every operation once its dependencies have run, lowest index first; break cycles
        with 409s. Returns the operations processed, in the order they ran."""
        creator = {op.bulk_id: op for op in operations if op.method == "POST" and op.bulk_id is not None}
        self.created = creator
        depends_on: dict[int, set[int]] = defaultdict(set)
        last_on_target: dict[tuple, int] = {}
        for op in operations:
            if op.error is not None:
                continue  # fails at its turn, waiting for nothing
            for bulk_id in op.references:
                depends_on[op.index].add(creator[bulk_id].index)
            if op.method != "POST":  # operations on one existing resource keep their order
                key = (op.endpoint, _target_key(op.target))
                if key in last_on_target:
                    depends_on[op.index].add(last_on_target[key])
                last_on_target[key] = op.index
        dependents: dict[int, list[int]] = defaultdict(list)
        waiting = {}
        for index, needs in depends_on.items():
            waiting[index] = len(needs)
            for need in needs:
                dependents[need].append(index)
        ready = [op.index for op in operations if not waiting.get(op.index)]
        heapq.heapify(ready)
        processed: list[Operation] = []
        errors = 0

        def finish(op: Operation) -> bool:
            """Record ``op`` as processed; False once failOnErrors is reached."""
            nonlocal errors
            op.done = True
            processed.append(op)
            for index in dependents[op.index]:
                waiting[index] -= 1
                if waiting[index] == 0:
                    heapq.heappush(ready, index)
            if op.failed:
                errors += 1
                if fail_on_errors is not None and errors >= fail_on_errors:
                    return False
            return True

        while True:
            while ready:
                op = operations[heapq.heappop(ready)]
                if op.done:  # on a cycle: failed with 409 already
                    continue
                self._process(op)
                self.batches.operation_done()
                if not finish(op):
                    return processed
            remaining = [op for op in operations if not op.done]
            if not remaining:
                return processed
            # Nothing is ready, yet operations wait: some wait on each other (RFC 7644 3.7.1).
            pending = {op.index for op in remaining}
            graph = {i: sorted(depends_on[i] & pending) for i in pending}
            cyclic = _cyclic_components(graph)
            for index in sorted(cyclic):
                op = operations[index]
                op.fail(409, _cycle_detail(op, cyclic[index], graph, operations))
                if not finish(op):
                    return processed

    def _process(self, op: Operation, *, again: bool = False) -> None:
        try:
            if op.error is not None:
                raise op.error
            self._execute(op)
        except (OperationalError, InterfaceError) as error:
            if not transaction_conflict(error):
                raise  # the database is unavailable: the request answers 503 (scim_api.errors)
            # A batch holds the locks of all its operations, so it cannot take them in the one
            # order single writes keep (directory.services.locks); when that deadlocks, this
            # operation (rolled back to its savepoint) lets the others through: the batch commits,
            # releasing its locks, and the operation runs again, once, in the next batch.
            if again:
                op.fail(503, "The operation conflicted with concurrent writes; retry it.")
                return
            self.batches.commit()
            self._process(op, again=True)
        except ScimError as error:
            op.fail(error.status_code, error.detail, error.scim_type)
        except ServiceError as error:
            scim = scim_error_of(error)
            op.fail(scim.status_code, scim.detail, scim.scim_type)
        except Exception:
            # Earlier operations are committed: answer for them, and for this one a 500, logged.
            logger.exception("Bulk %s failed unexpectedly (%s %s)", op.label, op.method, op.endpoint)
            op.fail(500, "The server failed to process this operation; the error has been logged.")

    def _execute(self, op: Operation) -> None:
        assert op.endpoint is not None and op.method is not None  # else parsing failed it (op.error)
        handler = RESOURCES[op.endpoint]
        if op.target is not None:
            op.resource_id = self._resolve(op, op.target)
        data = op.data
        for bulk_id in op.references:
            if bulk_id not in self.ids:
                raise InvalidValue(
                    f"{op.label}: bulkId:{bulk_id} names no resource: the operation that was to "
                    "create it failed."
                )
        if op.references and data is not None:
            data = _substitute(data, self.created, self.ids)
        actor = self.actor

        def run(tenant):
            with transaction.atomic():
                if op.method == "POST":
                    return handler.create(tenant, actor, data)
                assert op.resource_id is not None  # from the path, which names one resource but for POST
                expected = expected_version(op.version)
                if expected == NO_VERSION:
                    handler.get(tenant, op.resource_id)  # a missing resource is a 404 before a 412
                    raise PreconditionFailed(
                        f"{op.label}.version {op.version!r} is not an entity tag this server issued."
                    )
                if op.method == "PUT":
                    return handler.replace(tenant, actor, op.resource_id, data, expected)
                if op.method == "PATCH":
                    return handler.patch(tenant, actor, op.resource_id, data, expected)
                handler.delete(tenant, actor, op.resource_id, expected)
                return None

        instance, self.tenant = with_current_schemas(self.tenant, run)
        # Committed (or released, inside an outer transaction): now it may be named and located.
        op.status = SUCCESS_STATUS[op.method]
        if op.method == "POST":
            assert instance is not None  # the one created
            op.resource_id = str(instance.pk)
            if op.bulk_id is not None:
                self.ids[op.bulk_id] = op.resource_id
        if instance is not None:
            op.result_version = instance.etag

    def _resolve(self, op: Operation, target: str) -> str:
        if not target.startswith(PREFIX):
            return target
        bulk_id = target[len(PREFIX) :]
        if bulk_id not in self.ids:
            raise InvalidValue(
                f"{op.label}: bulkId:{bulk_id} names no resource: the operation that was to create it failed."
            )
        return self.ids[bulk_id]


def _target_key(target: str | None) -> str | None:
    if target is None or target.startswith(PREFIX):
        return target
    pk = parse_id(target)
    return str(pk) if pk is not None else target


def _cyclic_components(graph: dict[int, list[int]]) -> dict[int, set[int]]:
    """Tarjan's strongly connected components, iteratively: for each operation on a cycle (a
    component of two or more, or one that references itself), its component."""
    index_of: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    result: dict[int, set[int]] = {}
    counter = 0
    for root in sorted(graph):
        if root in index_of:
            continue
        work = [(root, iter(graph[root]))]
        index_of[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index_of:
                    index_of[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index_of[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index_of[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    for member in component:
                        result[member] = component
    return result


def _cycle_detail(op: Operation, component: set[int], graph, operations: list[Operation]) -> str:
    """A shortest cycle through ``op`` inside its component, each step a bulkId reference."""
    start, previous, frontier, last = op.index, {}, [op.index], None
    while frontier and last is None:
        following = []
        for node in frontier:
            if start in graph[node]:
                last = node
                break
            for child in graph[node]:
                if child in component and child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    assert last is not None  # op is on a cycle of its component
    cycle = [last]
    while cycle[-1] != start:
        cycle.append(previous[cycle[-1]])
    cycle.reverse()  # start, ..., last; last references start
    steps = [
        f"{operations[a].label} (bulkId {operations[a].bulk_id}) references bulkId:{operations[b].bulk_id}"
        for a, b in zip(cycle, [*cycle[1:], start], strict=True)
    ]
    return (
        f"Circular bulkId references: {', '.join(steps)}. None of these resources can be created "
        "before the others; create them without the references, then add the references with PATCH."
    )


# A batch transaction holds the row locks its operations took until it commits: kept short.
BATCH_OPERATIONS = 100
BATCH_SECONDS = 0.25


class _Batches:
    """The transactions a bulk request's operations run in: a new one after BATCH_OPERATIONS
    operations or BATCH_SECONDS (savepoints, inside an outer transaction such as a test's)."""

    def __enter__(self) -> _Batches:
        self._open()
        return self

    def __exit__(self, *exc_info) -> None:
        self._transaction.__exit__(*exc_info)

    def operation_done(self) -> None:
        self._operations += 1
        if self._operations >= BATCH_OPERATIONS or time.monotonic() - self._started >= BATCH_SECONDS:
            self.commit()

    def commit(self) -> None:
        """End this batch (committing it) and begin the next."""
        self._transaction.__exit__(None, None, None)
        self._open()

    def _open(self) -> None:
        self._transaction = transaction.atomic()
        self._transaction.__enter__()
        self._operations, self._started = 0, time.monotonic()


def process(body: Any, *, tenant, actor: Actor, base_url: str) -> dict:
    """The BulkResponse for a bulk request body."""
    request = parse_request(body)
    processor = BulkProcessor(tenant=tenant, actor=actor, base_url=base_url)
    return processor.run(request)
