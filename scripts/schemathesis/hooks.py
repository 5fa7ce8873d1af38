"""Schemathesis hooks of scripts/fuzz-api.

A bulk push (POST /sync/push) carries an NDJSON body, which Schemathesis cannot send on its
own, and an X-Chunk-Id header that must be the SHA-256 of that body, which random data never
is. These hooks send the generated mutation as a one-line chunk, and replace a well-formed
(64 hex digits) generated X-Chunk-Id with the body's real one, so that the fuzzing reaches
the mutation rules. A malformed or missing X-Chunk-Id is sent as generated (the server
answers 400).
"""

import hashlib
import json
import re

import schemathesis
from schemathesis.core import NOT_SET

CHUNK_ID = re.compile(r"[0-9a-fA-F]{64}\Z")


def ndjson_line(value):
    """The generated value as one NDJSON line."""
    if isinstance(value, bytes):
        return value
    return (json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str) + "\n").encode("utf-8")


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    return ndjson_line(value)


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path != "/sync/push" or case.body is NOT_SET or not case.headers:
        return
    chunk_id = case.headers.get("X-Chunk-Id")
    if isinstance(chunk_id, str) and CHUNK_ID.match(chunk_id):
        case.headers["X-Chunk-Id"] = hashlib.sha256(ndjson_line(case.body)).hexdigest()
