"""Schemathesis hooks of scripts/fuzz-api.

A bulk push (POST /sync/push) carries an NDJSON body, which Schemathesis cannot send on its
own, and an X-Chunk-Id header that must be the SHA-256 of that body, which random data never
is. These hooks send the generated mutation as a one-line chunk, and replace a well-formed
(64 hex digits) generated X-Chunk-Id with the body's real one, so that the fuzzing reaches
the mutation rules. A malformed or missing X-Chunk-Id is sent as generated (the server
answers 400).

The `bearer` credential of the run is a token of the spaces `notes` and `fuzz`, which every
/admin route refuses (403): for the operations of /admin (tokens, and the operator console's
spaces, conflicts and health), the hook `before_call` sends the admin token scripts/fuzz-api
made instead (FERRY_FUZZ_ADMIN_TOKEN), so that the fuzzing reaches the admin API. A request Schemathesis sends without that credential, or with another
one (its authentication checks), is left as it is. The admin token cannot revoke itself by
chance: DELETE /admin/tokens/{grant_id} needs the grant's random id.

Schemathesis does not read NDJSON answers (an event stream, a snapshot chunk), so the check
`ndjson_lines_conform` validates each of their lines against the documented schema.
"""

import hashlib
import json
import os
import re
import sys

import jsonschema_rs
import schemathesis
from schemathesis.core import NOT_SET

CHUNK_ID = re.compile(r"[0-9a-fA-F]{64}\Z")
SPACE_BEARER = f"Bearer {os.environ.get('FERRY_FUZZ_TOKEN', '')}"
ADMIN_TOKEN = os.environ.get("FERRY_FUZZ_ADMIN_TOKEN")

# Hypothesis builds (and prints) recursive strategies for the any-JSON payloads. At Python's
# default depth of 1000 that ended once in CI in a RecursionError inside CPython 3.11's ast
# module ("AST constructor recursion depth mismatch", a Runtime Error of push): a crash of
# the fuzzer, not a finding about the server.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))


def ndjson_line(value):
    """The generated value as one NDJSON line."""
    if isinstance(value, bytes):
        return value
    return (json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str) + "\n").encode("utf-8")


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    return ndjson_line(value)


def use_admin_token(case, kwargs):
    """Swaps the run's space token for the admin token on the operations of /admin."""
    if not ADMIN_TOKEN or not case.operation.path.startswith("/admin/"):
        return
    for headers in (kwargs.get("headers"), case.headers):
        if not headers:
            continue
        for name in list(headers):
            if name.lower() == "authorization" and headers[name] == SPACE_BEARER:
                headers[name] = f"Bearer {ADMIN_TOKEN}"


@schemathesis.hook
def before_call(context, case, kwargs):
    use_admin_token(case, kwargs)
    if case.operation.path != "/sync/push" or case.body is NOT_SET or not case.headers:
        return
    chunk_id = case.headers.get("X-Chunk-Id")
    if isinstance(chunk_id, str) and CHUNK_ID.match(chunk_id):
        case.headers["X-Chunk-Id"] = hashlib.sha256(ndjson_line(case.body)).hexdigest()


def inlined(node, document):
    """`node` with every local $ref replaced by what it names (the document has no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return inlined(target, document)
        return {key: inlined(value, document) for key, value in node.items()}
    if isinstance(node, list):
        return [inlined(value, document) for value in node]
    return node


@schemathesis.check
def ndjson_lines_conform(ctx, response, case):
    """Each line of an application/x-ndjson answer matches the documented schema of a line."""
    content_type = ",".join(response.headers.get("content-type", []))
    if not content_type.startswith("application/x-ndjson"):
        return None
    document = case.operation.schema.raw_schema
    operation = document["paths"][case.operation.path][case.operation.method.lower()]
    documented = inlined(operation["responses"].get(str(response.status_code), {}), document)
    schema = documented.get("content", {}).get("application/x-ndjson", {}).get("schema")
    if schema is None:
        raise AssertionError(f"{response.status_code} answers application/x-ndjson, which is not documented")
    validator = jsonschema_rs.Draft4Validator(schema)
    body = response.content
    if body and not body.endswith(b"\n"):
        raise AssertionError("the NDJSON body does not end with a newline")
    for number, line in enumerate(body.split(b"\n")[:-1], start=1):
        value = json.loads(line)
        for error in validator.iter_errors(value):
            raise AssertionError(f"line {number} does not match the documented schema: {error.message}\n{line[:500]!r}")
    return None
