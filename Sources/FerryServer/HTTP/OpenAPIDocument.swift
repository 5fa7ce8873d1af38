/// The OpenAPI 3 document of the API this server serves, answered by `GET /openapi.yaml`.
///
/// A test walks every path and method listed here against a running server, so the
/// document cannot name a route the server does not have.
package enum OpenAPIDocument {
    /// The document, as YAML.
    package static let yaml = """
        openapi: 3.0.3
        info:
          title: Ferry sync API
          version: "1"
          description: >
            The wire contract between Ferry clients and a Ferry server: one ordered,
            deduplicated log of mutations per space, pushed and pulled over HTTP.
            Every error answers {"error": {"code", "message"}}.
        servers:
          - url: http://127.0.0.1:8080
        components:
          securitySchemes:
            bearer:
              type: http
              scheme: bearer
          schemas:
            Error:
              type: object
              required: [error]
              properties:
                error: {$ref: "#/components/schemas/ErrorDetail"}
            ErrorDetail:
              type: object
              required: [code, message]
              properties:
                code:
                  type: string
                  enum: [bad_request, unauthorized, forbidden, not_found, cursor_ahead, conflict,
                         history_pruned, payload_too_large, rate_limited, internal, unavailable]
                message: {type: string}
            HistoryPruned:
              type: object
              description: The 410 answer of a pull below the space's floor.
              required: [error, floor_seq]
              properties:
                error: {$ref: "#/components/schemas/ErrorDetail"}
                floor_seq: {type: integer, format: int64, minimum: 1}
            MutationInput:
              type: object
              required: [client_action_id, entity, entity_key, op]
              properties:
                client_action_id: {type: integer, format: int64, minimum: 1}
                entity: {type: string, pattern: "^[A-Za-z][A-Za-z0-9_.-]{0,63}$"}
                entity_key: {type: string, minLength: 1, maxLength: 256}
                op: {type: string, enum: [upsert, patch, delete]}
                payload: {type: object, additionalProperties: true}
                base_seq: {type: integer, format: int64, minimum: 0}
                client_timestamp: {type: string, format: date-time}
            LoggedMutation:
              type: object
              required: [seq, device_id, session_id, client_action_id, entity, entity_key, op, occurred_at]
              properties:
                seq: {type: integer, format: int64}
                device_id: {type: string}
                session_id: {type: string}
                client_action_id: {type: integer, format: int64}
                entity: {type: string}
                entity_key: {type: string}
                op: {type: string, enum: [upsert, patch, delete]}
                payload: {type: object, additionalProperties: true}
                base_seq: {type: integer, format: int64}
                client_timestamp: {type: string, format: date-time}
                occurred_at: {type: string, format: date-time}
            PushRequest:
              type: object
              required: [space, device_id, session_id, mutations]
              properties:
                space: {type: string, pattern: "^[a-z0-9][a-z0-9._-]{0,63}$"}
                device_id: {type: string, minLength: 1, maxLength: 128}
                session_id: {type: string, minLength: 1, maxLength: 128}
                mutations:
                  type: array
                  maxItems: 1000
                  items: {$ref: "#/components/schemas/MutationInput"}
            PushResponse:
              type: object
              required: [accepted, acks, rejected, conflicts, head_seq, log_id]
              properties:
                accepted: {type: integer}
                acks:
                  type: array
                  items:
                    type: object
                    required: [client_action_id, seq]
                    properties:
                      client_action_id: {type: integer, format: int64}
                      seq: {type: integer, format: int64}
                rejected:
                  type: array
                  items:
                    type: object
                    required: [client_action_id, reason]
                    properties:
                      client_action_id: {type: integer, format: int64}
                      reason: {type: string, enum: [duplicate, invalid]}
                      seq: {type: integer, format: int64}
                      message: {type: string}
                conflicts:
                  type: array
                  items:
                    type: object
                    required: [client_action_id, entity, entity_key, base_seq, current_seq]
                    properties:
                      client_action_id: {type: integer, format: int64}
                      entity: {type: string}
                      entity_key: {type: string}
                      base_seq: {type: integer, format: int64}
                      current_seq: {type: integer, format: int64}
                head_seq: {type: integer, format: int64}
                log_id: {type: string}
            PullResponse:
              type: object
              required: [mutations, has_more, latest_seq, head_seq, log_id]
              properties:
                mutations:
                  type: array
                  items: {$ref: "#/components/schemas/LoggedMutation"}
                has_more: {type: boolean}
                latest_seq: {type: integer, format: int64}
                head_seq: {type: integer, format: int64}
                log_id: {type: string}
                floor_seq:
                  type: integer
                  format: int64
                  description: The lowest seq the space still holds, minus one (0 while nothing was pruned).
            Manifest:
              type: object
              required: [version, log_id, snapshot_seq, floor_seq, chunks]
              properties:
                version: {type: integer, enum: [1]}
                log_id: {type: string}
                snapshot_seq: {type: integer, format: int64, minimum: 0}
                floor_seq: {type: integer, format: int64, minimum: 0}
                chunks:
                  type: array
                  items:
                    type: object
                    required: [id, records, bytes, created_at]
                    properties:
                      id: {type: string, pattern: "^[0-9a-f]{64}$"}
                      records: {type: integer, minimum: 1}
                      bytes: {type: integer, minimum: 1}
                      created_at: {type: string, format: date-time}
            SnapshotRecord:
              type: object
              description: One line of a snapshot chunk.
              required: [entity, entity_key, payload, seq]
              properties:
                entity: {type: string}
                entity_key: {type: string}
                payload: {type: object, additionalProperties: true}
                seq: {type: integer, format: int64, minimum: 1}
            StreamRequest:
              type: object
              required: [space, device_id, types]
              properties:
                space: {type: string, pattern: "^[a-z0-9][a-z0-9._-]{0,63}$"}
                device_id: {type: string, minLength: 1, maxLength: 128}
                types:
                  type: array
                  minItems: 1
                  maxItems: 100
                  items: {type: string, pattern: "^[A-Za-z][A-Za-z0-9_.-]{0,63}$"}
            StreamEvent:
              type: object
              description: >
                One line of a stream. For an entity type, data is a pulled mutation; the
                last line is SyncComplete (data {"head_seq"}) or, alone, SyncReset (data {}).
              required: [type, data, ack]
              properties:
                type: {type: string}
                data: {type: object, additionalProperties: true}
                ack: {type: string, pattern: "^[A-Za-z][A-Za-z0-9_.-]{0,63}[|](0|[1-9][0-9]*)$"}
            AckRequest:
              type: object
              required: [space, device_id, acks]
              properties:
                space: {type: string, pattern: "^[a-z0-9][a-z0-9._-]{0,63}$"}
                device_id: {type: string, minLength: 1, maxLength: 128}
                acks:
                  type: array
                  minItems: 1
                  maxItems: 1000
                  items: {type: string}
            AckList:
              type: object
              required: [acks]
              properties:
                acks:
                  type: array
                  items: {type: string, pattern: "^[A-Za-z][A-Za-z0-9_.-]{0,63}[|][1-9][0-9]*$"}
            TokenPair:
              type: object
              required: [access_token, refresh_token, expires_in]
              properties:
                access_token: {type: string}
                refresh_token: {type: string}
                expires_in: {type: integer}
          responses:
            Error:
              description: An error; the status and `error.code` say which.
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Error"}
        paths:
          /sync/mutations/push:
            post:
              summary: Append mutations to a space's log.
              description: >
                Every mutation appears once, in acks or in rejected. A mutation that breaks a
                rule is rejected as invalid and the others are accepted; a repeated
                (device_id, session_id, client_action_id) is rejected as duplicate with the
                seq it was stored under. More mutations than the limit answer 400; a body or
                one payload over its limit answers 413; nothing is stored then.
              security: [{bearer: []}]
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/PushRequest"}
              responses:
                "200":
                  description: The outcome of every mutation.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/PushResponse"}
                "400": {$ref: "#/components/responses/Error"}
                "401": {$ref: "#/components/responses/Error"}
                "403": {$ref: "#/components/responses/Error"}
                "413": {$ref: "#/components/responses/Error"}
                "503": {$ref: "#/components/responses/Error"}
          /sync/mutations/pull:
            get:
              summary: Read a page of a space's log, optionally waiting for new mutations.
              security: [{bearer: []}]
              parameters:
                - {name: space, in: query, required: true, schema: {type: string}}
                - {name: since_seq, in: query, required: true, schema: {type: integer, format: int64, minimum: 0}}
                - {name: limit, in: query, required: false, schema: {type: integer, minimum: 1, default: 500},
                   description: "At most 5000; a larger value is treated as 5000."}
                - {name: exclude_device, in: query, required: false, schema: {type: string}}
                - {name: wait, in: query, required: false, schema: {type: number, minimum: 0, maximum: 60},
                   description: "Long-poll: hold the request up to this many seconds until a mutation is committed."}
              responses:
                "200":
                  description: A page of the log.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/PullResponse"}
                "400": {$ref: "#/components/responses/Error"}
                "401": {$ref: "#/components/responses/Error"}
                "403": {$ref: "#/components/responses/Error"}
                "409": {$ref: "#/components/responses/Error"}
                "410":
                  description: since_seq is below the space's floor; bootstrap from the snapshot.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/HistoryPruned"}
                "429":
                  description: >
                    A long-poll over the server's limits (per token, or in all) with nothing new:
                    not held; ask again after Retry-After.
                  headers:
                    Retry-After: {description: Seconds to wait., schema: {type: integer}}
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}
                "503": {$ref: "#/components/responses/Error"}
          /sync/pull:
            get:
              summary: The space's newest snapshot manifest.
              description: >
                The state of the space at snapshot_seq (the latest version of every record not
                deleted), cut into chunks named by the SHA-256 of their body. snapshot_seq 0
                and no chunks: no snapshot yet. A device applies every chunk, then pulls from
                snapshot_seq.
              security: [{bearer: []}]
              parameters:
                - {name: space, in: query, required: true, schema: {type: string}}
              responses:
                "200":
                  description: The manifest.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Manifest"}
                "400": {$ref: "#/components/responses/Error"}
                "401": {$ref: "#/components/responses/Error"}
                "403": {$ref: "#/components/responses/Error"}
                "503": {$ref: "#/components/responses/Error"}
          /sync/pull/{chunk_id}:
            get:
              summary: A snapshot chunk's body, NDJSON, one record per line.
              description: >
                Immutable (ETag is the id); its SHA-256 equals the id. 404 for an unknown or
                malformed id, or one that no kept manifest of the token's spaces names.
              security: [{bearer: []}]
              parameters:
                - {name: chunk_id, in: path, required: true, schema: {type: string}}
              responses:
                "200":
                  description: One SnapshotRecord per line.
                  content:
                    application/x-ndjson:
                      schema: {$ref: "#/components/schemas/SnapshotRecord"}
                "304": {description: The client's copy (If-None-Match) is current.}
                "401": {$ref: "#/components/responses/Error"}
                "404": {$ref: "#/components/responses/Error"}
                "503": {$ref: "#/components/responses/Error"}
          /sync/push:
            post:
              summary: Upload a bulk chunk of mutations (NDJSON, one mutation per line).
              description: >
                X-Chunk-Id is the SHA-256 of the body. Appended in one transaction; a line that
                breaks a mutation rule is rejected on its own; a line that is not a JSON object
                refuses the chunk (400, naming the line). Uploading the same chunk again stores
                nothing new: its mutations come back as duplicates with their seqs.
              security: [{bearer: []}]
              parameters:
                - {name: space, in: query, required: true, schema: {type: string}}
                - {name: device_id, in: query, required: true, schema: {type: string}}
                - {name: session_id, in: query, required: true, schema: {type: string}}
                - {name: X-Chunk-Id, in: header, required: true, schema: {type: string, pattern: "^[0-9a-fA-F]{64}$"}}
              requestBody:
                required: true
                content:
                  application/x-ndjson:
                    schema: {$ref: "#/components/schemas/MutationInput"}
              responses:
                "200":
                  description: The outcome of every mutation, as a push answers.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/PushResponse"}
                "400": {$ref: "#/components/responses/Error"}
                "401": {$ref: "#/components/responses/Error"}
                "403": {$ref: "#/components/responses/Error"}
                "413": {$ref: "#/components/responses/Error"}
                "503": {$ref: "#/components/responses/Error"}
          /sync/stream:
            post:
              summary: Stream a device's unacknowledged events of some types, as NDJSON.
              description: >
                Every mutation whose entity is in types and whose seq is above that type's
                checkpoint for the device, ascending, up to the head at the moment the request
                began, then one SyncComplete line. One SyncReset line instead when the device
                must start over. The body is written as it is read from the log.
              security: [{bearer: []}]
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/StreamRequest"}
              responses:
                "200":
                  description: One StreamEvent per line.
                  content:
                    application/x-ndjson:
                      schema: {$ref: "#/components/schemas/StreamEvent"}
                "400": {$ref: "#/components/responses/Error"}
                "401": {$ref: "#/components/responses/Error"}
                "403": {$ref: "#/components/responses/Error"}
                "413": {$ref: "#/components/responses/Error"}
                "503": {$ref: "#/components/responses/Error"}
          /sync/ack:
            post:
              summary: Acknowledge processed events; each type's checkpoint keeps its highest seq.
              description: >
                An ack is TYPE|SEQ. SyncComplete|N records a finished stream; SyncReset|0 clears
                the device's checkpoints first. A malformed ack, one above the head, or more
                than 1000 acks answer 400 naming the first bad one, and none is stored.
              security: [{bearer: []}]
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/AckRequest"}
              responses:
                "204": {description: Every ack is stored.}
                "400": {$ref: "#/components/responses/Error"}
                "401": {$ref: "#/components/responses/Error"}
                "403": {$ref: "#/components/responses/Error"}
                "413": {$ref: "#/components/responses/Error"}
                "503": {$ref: "#/components/responses/Error"}
            get:
              summary: The device's checkpoints in the space, as acks.
              security: [{bearer: []}]
              parameters:
                - {name: space, in: query, required: true, schema: {type: string}}
                - {name: device_id, in: query, required: true, schema: {type: string}}
              responses:
                "200":
                  description: The checkpoints, sorted by type.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/AckList"}
                "400": {$ref: "#/components/responses/Error"}
                "401": {$ref: "#/components/responses/Error"}
                "403": {$ref: "#/components/responses/Error"}
                "503": {$ref: "#/components/responses/Error"}
            delete:
              summary: Clear the device's checkpoints in the space, all or those of some types.
              security: [{bearer: []}]
              parameters:
                - {name: space, in: query, required: true, schema: {type: string}}
                - {name: device_id, in: query, required: true, schema: {type: string}}
                - {name: types, in: query, required: false, schema: {type: string},
                   description: "Comma-separated types; all of them when absent."}
              responses:
                "204": {description: The checkpoints are cleared.}
                "400": {$ref: "#/components/responses/Error"}
                "401": {$ref: "#/components/responses/Error"}
                "403": {$ref: "#/components/responses/Error"}
                "503": {$ref: "#/components/responses/Error"}
          /auth/refresh:
            post:
              summary: Spend a refresh token for a new access token and refresh token.
              requestBody:
                required: true
                content:
                  application/json:
                    schema:
                      type: object
                      required: [refresh_token]
                      properties:
                        refresh_token: {type: string}
              responses:
                "200":
                  description: The new pair; the refresh token just used stops working.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/TokenPair"}
                "400": {$ref: "#/components/responses/Error"}
                "401": {$ref: "#/components/responses/Error"}
                "413": {$ref: "#/components/responses/Error"}
          /healthz:
            get:
              summary: Whether the storage answers.
              responses:
                "200":
                  description: The storage answers.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [status]
                        properties:
                          status: {type: string, enum: [ok]}
                          spaces:
                            type: array
                            description: Each space's log size, floor and newest snapshot.
                            items:
                              type: object
                              required: [space, head_seq, floor_seq, mutations, snapshot_seq]
                              properties:
                                space: {type: string}
                                head_seq: {type: integer, format: int64}
                                floor_seq: {type: integer, format: int64}
                                mutations: {type: integer, format: int64}
                                snapshot_seq: {type: integer, format: int64}
                "503":
                  description: The storage does not answer.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [status, error]
                        properties:
                          status: {type: string, enum: [unavailable]}
                          error: {$ref: "#/components/schemas/ErrorDetail"}
          /metrics:
            get:
              summary: Prometheus metrics.
              responses:
                "200":
                  description: Prometheus text exposition format.
                  content:
                    text/plain:
                      schema: {type: string}
          /openapi.yaml:
            get:
              summary: This document.
              responses:
                "200":
                  description: The OpenAPI document.
                  content:
                    application/yaml:
                      schema: {type: string}
        """
}
