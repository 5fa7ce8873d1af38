import FerryCore
import FerryLog

/// The OpenAPI 3 document of the API this server serves, answered by `GET /openapi.yaml`.
///
/// It is as strict as the server: what it admits the server accepts, and what the server
/// refuses as a whole request it refuses, so that a client generated from it refuses what the
/// server refuses. The limits a server can change (the longest long-poll, the most mutations
/// in a push, the most acks in a request) are written in from its ``ServerConfiguration``.
/// A test provokes every status of every operation listed here from a running server, and
/// `scripts/fuzz-api` fuzzes a real server against the document.
package enum OpenAPIDocument {
    /// The document of a server with the default limits.
    package static let yaml = yaml(for: ServerConfiguration())

    /// The document of a server with `configuration`'s limits, as YAML.
    package static func yaml(for configuration: ServerConfiguration) -> String {
        """
        openapi: 3.0.3
        info:
          title: Ferry sync API
          version: "1"
          description: >
            The wire contract between Ferry clients and a Ferry server: one ordered,
            deduplicated log of mutations per space, pushed and pulled over HTTP.
            Every error answers {"error": {"code", "message"}}, with the codes its status
            allows; a request refused with a 4xx changes nothing on the server. An unknown
            route, or a method a route does not have, answers 404 not_found. A 500 (internal)
            is a bug of the server and is not listed. Content codings (optional): a request
            with Accept-Encoding accepting gzip may get the answer of a push, pull, bulk push,
            stream or snapshot chunk gzip-compressed (Content-Encoding: gzip, Vary:
            Accept-Encoding); a server that accepts gzip request bodies says so with
            Accept-Encoding: gzip on its /sync answers, and then takes the bodies of push, bulk
            push and stream with Content-Encoding: gzip (the decompressed size held to the
            limit, 413; a corrupt body 400; another coding 415).
        servers:
          - url: /
            description: The server that serves this document.
        components:
          securitySchemes:
            bearer:
              type: http
              scheme: bearer
              description: >
                A Ferry access token of some spaces for /sync, or a JWT of the app's identity
                provider when the server accepts them; an admin token for /admin, and only there.
          parameters:
            space:
              {name: space, in: query, required: true, schema: {$ref: "#/components/schemas/SpaceName"}}
            device_id:
              {name: device_id, in: query, required: true, schema: {$ref: "#/components/schemas/ClientID"}}
            since_seq:
              {name: since_seq, in: query, required: true, schema: {$ref: "#/components/schemas/Seq"}}
          headers:
            Retry-After:
              description: Seconds to wait before trying again.
              required: true
              schema: {type: integer, minimum: 0}
            Content-Encoding:
              description: gzip when the body is compressed; absent otherwise.
              required: false
              schema: {type: string, enum: [gzip]}
            Vary:
              description: Accept-Encoding, on the answers that may be compressed (when the server's compression is on).
              required: false
              schema: {type: string}
            Accept-Encoding:
              description: gzip when the server accepts gzip-compressed request bodies (RFC 7694); on every /sync answer.
              required: false
              schema: {type: string}
          schemas:
            SpaceName:
              type: string
              pattern: "^[a-z0-9][a-z0-9._-]{0,63}$"
              example: notes
            ClientID:
              type: string
              description: A device or session id, 1 to 128 printable ASCII characters.
              pattern: "^[ -~]{1,128}$"
              example: dev-a
            EntityName:
              type: string
              pattern: "^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
              example: note
            Seq:
              type: integer
              format: int64
              minimum: 0
              maximum: 9223372036854775807
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
                         history_pruned, payload_too_large, unsupported_media_type, rate_limited,
                         internal, unavailable]
                message: {type: string}
            HistoryPruned:
              type: object
              description: The 410 answer of a pull below the space's floor.
              required: [error, floor_seq]
              properties:
                error:
                  type: object
                  required: [code, message]
                  properties:
                    code: {type: string, enum: [history_pruned]}
                    message: {type: string}
                floor_seq: {type: integer, format: int64, minimum: 1}
            MutationInput:
              type: object
              description: >
                A mutation as a client sends it; payload is required unless op is delete, and
                is at most 1 MiB encoded (413 above). A mutation that breaks a rule is rejected
                on its own (reason invalid) and the others of the request go on.
              required: [client_action_id, entity, entity_key, op]
              properties:
                client_action_id: {type: integer, format: int64, minimum: 1, maximum: 9223372036854775807}
                entity: {$ref: "#/components/schemas/EntityName"}
                entity_key: {type: string, minLength: 1, maxLength: 256}
                op: {type: string, enum: [upsert, patch, delete]}
                payload: {type: object, additionalProperties: true}
                base_seq: {$ref: "#/components/schemas/Seq"}
                client_timestamp: {type: string, format: date-time}
            LoggedMutation:
              type: object
              required: [seq, device_id, session_id, client_action_id, entity, entity_key, op, occurred_at]
              properties:
                seq: {type: integer, format: int64, minimum: 1}
                device_id: {$ref: "#/components/schemas/ClientID"}
                session_id: {$ref: "#/components/schemas/ClientID"}
                client_action_id: {type: integer, format: int64, minimum: 1}
                entity: {$ref: "#/components/schemas/EntityName"}
                entity_key: {type: string, minLength: 1}
                op: {type: string, enum: [upsert, patch, delete]}
                payload: {type: object, additionalProperties: true}
                base_seq: {type: integer, format: int64, minimum: 0}
                client_timestamp: {type: string, format: date-time}
                occurred_at: {type: string, format: date-time}
            PushRequest:
              type: object
              required: [space, device_id, session_id, mutations]
              properties:
                space: {$ref: "#/components/schemas/SpaceName"}
                device_id: {$ref: "#/components/schemas/ClientID"}
                session_id: {$ref: "#/components/schemas/ClientID"}
                mutations:
                  type: array
                  maxItems: \(configuration.maxMutationsPerPush)
                  items: {$ref: "#/components/schemas/MutationInput"}
            PushResponse:
              type: object
              required: [accepted, acks, rejected, conflicts, head_seq, log_id]
              properties:
                accepted: {type: integer, minimum: 0}
                acks:
                  type: array
                  items:
                    type: object
                    required: [client_action_id, seq]
                    properties:
                      client_action_id: {type: integer, format: int64}
                      seq: {type: integer, format: int64, minimum: 1}
                rejected:
                  type: array
                  items:
                    type: object
                    required: [client_action_id, reason]
                    properties:
                      client_action_id: {type: integer, format: int64}
                      reason: {type: string, enum: [duplicate, invalid]}
                      seq: {type: integer, format: int64, minimum: 1}
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
                head_seq: {type: integer, format: int64, minimum: 0}
                log_id: {type: string}
            PullResponse:
              type: object
              required: [mutations, has_more, latest_seq, head_seq, log_id]
              properties:
                mutations:
                  type: array
                  items: {$ref: "#/components/schemas/LoggedMutation"}
                has_more: {type: boolean}
                latest_seq: {type: integer, format: int64, minimum: 0}
                head_seq: {type: integer, format: int64, minimum: 0}
                log_id: {type: string}
                floor_seq:
                  type: integer
                  format: int64
                  minimum: 0
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
                space: {$ref: "#/components/schemas/SpaceName"}
                device_id: {$ref: "#/components/schemas/ClientID"}
                types:
                  type: array
                  minItems: 1
                  maxItems: 100
                  items: {$ref: "#/components/schemas/EntityName"}
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
                space: {$ref: "#/components/schemas/SpaceName"}
                device_id: {$ref: "#/components/schemas/ClientID"}
                acks:
                  type: array
                  minItems: 1
                  maxItems: \(configuration.maxAcksPerRequest)
                  items:
                    type: string
                    description: >
                      TYPE|SEQ: an entity name or SyncComplete, and a seq from 1 to the space's
                      head without sign or leading zeros; or SyncReset|0, the only form SyncReset
                      takes. A seq above the head answers 400.
                    pattern: "^(SyncReset[|]0|(?!SyncReset[|])[A-Za-z][A-Za-z0-9_.-]{0,63}[|][1-9][0-9]{0,17})$"
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
            IssuedTokens:
              type: object
              required: [grant_id, access_token, refresh_token, expires_in, spaces]
              properties:
                grant_id: {type: string}
                access_token: {type: string}
                refresh_token: {type: string}
                expires_in: {type: integer, format: int64, minimum: 1}
                spaces:
                  type: array
                  items: {$ref: "#/components/schemas/SpaceName"}
            Grant:
              type: object
              required: [id, spaces, access_ttl, created_at, admin]
              properties:
                id: {type: string}
                spaces:
                  type: array
                  description: Empty for an admin grant.
                  items: {$ref: "#/components/schemas/SpaceName"}
                access_ttl: {type: integer, format: int64, minimum: 1}
                created_at: {type: integer, format: int64, description: Milliseconds since 1970.}
                access_expires_at:
                  type: integer
                  format: int64
                  description: When the newest access token expires, milliseconds since 1970.
                revoked_at: {type: integer, format: int64, description: Milliseconds since 1970.}
                admin: {type: boolean}
            ConsoleSpace:
              type: object
              required: [space, log_id, head_seq, floor_seq, mutations, writes_per_minute, writes_per_minute_capped, devices]
              properties:
                space: {$ref: "#/components/schemas/SpaceName"}
                log_id: {type: string}
                head_seq: {$ref: "#/components/schemas/Seq"}
                floor_seq: {$ref: "#/components/schemas/Seq"}
                mutations: {type: integer, format: int64, minimum: 0, description: "The mutations the log holds: head_seq - floor_seq."}
                last_write_at: {type: string, format: date-time, description: The commit time of the head mutation; absent when the log holds none.}
                writes_per_minute:
                  type: integer
                  format: int64
                  minimum: 0
                  maximum: \(SpaceSummary.recentWritesLimit)
                  description: The mutations committed in the last 60 seconds, counted among the newest \(SpaceSummary.recentWritesLimit) the log holds.
                writes_per_minute_capped: {type: boolean, description: Whether writes_per_minute reached its cap (there may be more).}
                devices: {type: integer, minimum: 0, description: The devices this server process saw in the space since it started.}
            ConsoleDevice:
              type: object
              description: >
                A device as this server process saw it since it started: by its pushes, and by
                its pulls that name it with exclude_device.
              required: [device_id, last_seen_at]
              properties:
                device_id: {$ref: "#/components/schemas/ClientID"}
                last_seen_at: {type: string, format: date-time}
                last_push_at: {type: string, format: date-time}
                last_pull_at: {type: string, format: date-time}
                last_pushed_seq: {$ref: "#/components/schemas/Seq"}
                cursor: {$ref: "#/components/schemas/Seq"}
                lag: {type: integer, format: int64, minimum: 0, description: How far the cursor is behind the head.}
            ConsoleCheckpoint:
              type: object
              required: [device_id, type, seq, lag, current_log]
              properties:
                device_id: {$ref: "#/components/schemas/ClientID"}
                type: {type: string}
                seq: {$ref: "#/components/schemas/Seq"}
                lag: {type: integer, format: int64, minimum: 0, description: How far the checkpoint is behind the head.}
                current_log: {type: boolean, description: False when stored against a replaced log (the device will get SyncReset).}
            ConsoleConflict:
              type: object
              required: [space, device_id, at, client_action_id, entity, entity_key, base_seq, current_seq]
              properties:
                space: {$ref: "#/components/schemas/SpaceName"}
                device_id: {$ref: "#/components/schemas/ClientID"}
                at: {type: string, format: date-time}
                client_action_id: {type: integer, format: int64, minimum: 1}
                entity: {$ref: "#/components/schemas/EntityName"}
                entity_key: {type: string, minLength: 1}
                base_seq: {$ref: "#/components/schemas/Seq"}
                current_seq: {$ref: "#/components/schemas/Seq"}
            ConsoleHealth:
              type: object
              required: [status, storage, started_at, uptime_seconds, registry]
              properties:
                status: {type: string, enum: [ok, unavailable]}
                error: {$ref: "#/components/schemas/ErrorDetail"}
                storage:
                  type: object
                  required: [kind, reachable, check_ms]
                  properties:
                    kind: {type: string, enum: [memory, sqlite, postgresql, other]}
                    reachable: {type: boolean}
                    check_ms: {type: integer, format: int64, minimum: 0}
                    max_connections: {type: integer, minimum: 1, description: "PostgreSQL: the most connections of this server's pool."}
                    operation_timeout_ms: {type: integer, format: int64, minimum: 0, description: "PostgreSQL: how long one operation may take."}
                started_at: {type: string, format: date-time}
                uptime_seconds: {type: integer, format: int64, minimum: 0}
                registry:
                  type: object
                  description: The in-memory registry of devices and conflicts of this server process.
                  required: [spaces, devices, conflicts, max_spaces, max_devices_per_space, max_conflicts]
                  properties:
                    spaces: {type: integer, minimum: 0}
                    devices: {type: integer, minimum: 0}
                    conflicts: {type: integer, minimum: 0}
                    max_spaces: {type: integer, minimum: 1}
                    max_devices_per_space: {type: integer, minimum: 1}
                    max_conflicts: {type: integer, minimum: 1}
          responses:
        \(errorResponses)
            HistoryPruned:
              description: since_seq is below the space's floor; bootstrap from the snapshot.
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/HistoryPruned"}
        paths:
          /sync/mutations/push:
            post:
              operationId: push
              summary: Append mutations to a space's log.
              description: >
                Every mutation appears once, in acks or in rejected. A mutation that breaks a
                rule is rejected as invalid and the others are accepted; a repeated
                (device_id, session_id, client_action_id) is rejected as duplicate with the
                seq it was stored under. A bad space, device_id or session_id, or more
                mutations than the limit, answer 400; a body or one payload over its limit
                answers 413; nothing is stored then. The body may be gzip-compressed
                (Content-Encoding), and the answer is when asked for (Accept-Encoding).
              security: [{bearer: []}]
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/PushRequest"}
              responses:
                "200":
                  description: The outcome of every mutation.
                  headers:
                    Content-Encoding: {$ref: "#/components/headers/Content-Encoding"}
                    Vary: {$ref: "#/components/headers/Vary"}
                    Accept-Encoding: {$ref: "#/components/headers/Accept-Encoding"}
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/PushResponse"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "413": {$ref: "#/components/responses/PayloadTooLarge"}
                "415": {$ref: "#/components/responses/UnsupportedMediaType"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /sync/mutations/pull:
            get:
              operationId: pull
              summary: Read a page of a space's log, optionally waiting for new mutations.
              security: [{bearer: []}]
              parameters:
                - {$ref: "#/components/parameters/space"}
                - {$ref: "#/components/parameters/since_seq"}
                - {name: limit, in: query, required: false, schema: {type: integer, minimum: 1, default: \(configuration.defaultPullLimit)},
                   description: "At most \(configuration.maxPullLimit); a larger value is treated as \(configuration.maxPullLimit)."}
                - {name: exclude_device, in: query, required: false, schema: {$ref: "#/components/schemas/ClientID"},
                   description: "Leave out the mutations this device wrote (latest_seq still covers them)."}
                - {name: wait, in: query, required: false, schema: {type: number, minimum: 0, maximum: \(configuration.maxWaitSeconds)},
                   description: "Long-poll: hold the request up to this many seconds until a mutation is committed."}
              responses:
                "200":
                  description: A page of the log.
                  headers:
                    Content-Encoding: {$ref: "#/components/headers/Content-Encoding"}
                    Vary: {$ref: "#/components/headers/Vary"}
                    Accept-Encoding: {$ref: "#/components/headers/Accept-Encoding"}
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/PullResponse"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "409": {$ref: "#/components/responses/CursorAhead"}
                "410": {$ref: "#/components/responses/HistoryPruned"}
                "429": {$ref: "#/components/responses/RateLimited"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /sync/mutations/live:
            get:
              operationId: live
              summary: The live channel, a WebSocket that sends each new page of a space.
              description: >
                A WebSocket upgrade (Upgrade: websocket). Checked like a pull before the upgrade,
                whose refusals are answered as HTTP errors. After 101 the server sends text
                frames, each a PullResponse: the page at since_seq at once, then each page of
                mutations visible to the device as they are committed (has_more: the next
                follows at once). Pages holding only exclude_device's own mutations are not
                sent. The client sends no data frames (closed with 1008). Closes: 1001 server
                shutting down; 4000 + HTTP status for a protocol error (4401 token expired or
                revoked, re-checked every \(configuration.liveTokenRecheck.components.seconds) s;
                4410 history_pruned; 4503 storage unavailable), the reason the error body when it
                fits in 123 bytes. Counts against the long-poll limits.
              security: [{bearer: []}]
              parameters:
                - {$ref: "#/components/parameters/space"}
                - {$ref: "#/components/parameters/since_seq"}
                - {name: limit, in: query, required: false, schema: {type: integer, minimum: 1, default: \(configuration.defaultPullLimit)},
                   description: "Mutations per frame, at most \(configuration.maxPullLimit)."}
                - {name: exclude_device, in: query, required: false, schema: {$ref: "#/components/schemas/ClientID"},
                   description: "Leave out the mutations this device wrote."}
              responses:
                "400":
                  description: >
                    A parameter is wrong, or the request did not ask the WebSocket upgrade (an
                    upgrade request the server admits is answered 101 Switching Protocols,
                    which this document cannot describe as a response body).
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "409": {$ref: "#/components/responses/CursorAhead"}
                "410": {$ref: "#/components/responses/HistoryPruned"}
                "429": {$ref: "#/components/responses/RateLimited"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /sync/pull:
            get:
              operationId: manifest
              summary: The space's newest snapshot manifest.
              description: >
                The state of the space at snapshot_seq (the latest version of every record not
                deleted), cut into chunks named by the SHA-256 of their body. snapshot_seq 0
                and no chunks: no snapshot yet. A device applies every chunk, then pulls from
                snapshot_seq.
              security: [{bearer: []}]
              parameters:
                - {$ref: "#/components/parameters/space"}
              responses:
                "200":
                  description: The manifest.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Manifest"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /sync/pull/{chunk_id}:
            get:
              operationId: chunk
              summary: A snapshot chunk's body, NDJSON, one record per line.
              description: >
                Immutable (ETag is the id); its SHA-256 equals the id (of the body decompressed,
                when it is sent gzip-compressed). 404 for an unknown or
                malformed id, or one that no kept manifest of the token's spaces names.
              security: [{bearer: []}]
              parameters:
                - {name: chunk_id, in: path, required: true, schema: {type: string, pattern: "^[0-9a-fA-F]{64}$"}}
              responses:
                "200":
                  description: One SnapshotRecord per line.
                  headers:
                    ETag: {description: "The chunk id in quotes; the id followed by -gzip, in quotes, when the body is compressed.", required: true, schema: {type: string}}
                    Content-Encoding: {$ref: "#/components/headers/Content-Encoding"}
                    Vary: {$ref: "#/components/headers/Vary"}
                  content:
                    application/x-ndjson:
                      schema: {$ref: "#/components/schemas/SnapshotRecord"}
                "304":
                  description: The client's copy (If-None-Match) is current.
                  headers:
                    ETag: {description: The chunk id in quotes., required: true, schema: {type: string}}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "404": {$ref: "#/components/responses/NotFound"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /sync/push:
            post:
              operationId: bulkPush
              summary: Upload a bulk chunk of mutations (NDJSON, one mutation per line).
              description: >
                X-Chunk-Id is the SHA-256 of the body. Appended in one transaction; a line that
                breaks a mutation rule is rejected on its own; a line that is not a JSON object
                refuses the chunk (400, naming the line). Uploading the same chunk again stores
                nothing new: its mutations come back as duplicates with their seqs.
              security: [{bearer: []}]
              parameters:
                - {$ref: "#/components/parameters/space"}
                - {$ref: "#/components/parameters/device_id"}
                - {name: session_id, in: query, required: true, schema: {$ref: "#/components/schemas/ClientID"}}
                - {name: X-Chunk-Id, in: header, required: true, schema: {type: string, pattern: "^[0-9a-fA-F]{64}$"}}
              requestBody:
                required: true
                content:
                  application/x-ndjson:
                    schema: {$ref: "#/components/schemas/MutationInput"}
              responses:
                "200":
                  description: The outcome of every mutation, as a push answers.
                  headers:
                    Content-Encoding: {$ref: "#/components/headers/Content-Encoding"}
                    Vary: {$ref: "#/components/headers/Vary"}
                    Accept-Encoding: {$ref: "#/components/headers/Accept-Encoding"}
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/PushResponse"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "413": {$ref: "#/components/responses/PayloadTooLarge"}
                "415": {$ref: "#/components/responses/UnsupportedMediaType"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /sync/stream:
            post:
              operationId: stream
              summary: Stream a device's unacknowledged events of some types, as NDJSON.
              description: >
                Every mutation whose entity is in types and whose seq is above that type's
                checkpoint for the device, ascending, up to the head at the moment the request
                began, then one SyncComplete line. One SyncReset line instead when the device
                must start over. The body is written as it is read from the log; when
                compressed (Accept-Encoding: gzip), as one gzip stream flushed after every
                part, so each line can be read as soon as it is written.
              security: [{bearer: []}]
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/StreamRequest"}
              responses:
                "200":
                  description: One StreamEvent per line.
                  headers:
                    Content-Encoding: {$ref: "#/components/headers/Content-Encoding"}
                    Vary: {$ref: "#/components/headers/Vary"}
                    Accept-Encoding: {$ref: "#/components/headers/Accept-Encoding"}
                  content:
                    application/x-ndjson:
                      schema: {$ref: "#/components/schemas/StreamEvent"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "413": {$ref: "#/components/responses/PayloadTooLarge"}
                "415": {$ref: "#/components/responses/UnsupportedMediaType"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /sync/ack:
            post:
              operationId: acknowledge
              summary: Acknowledge processed events; each type's checkpoint keeps its highest seq.
              description: >
                An ack is TYPE|SEQ. SyncComplete|N records a finished stream; SyncReset|0 clears
                the device's checkpoints first. A malformed ack, one above the head, or more
                than \(configuration.maxAcksPerRequest) acks answer 400 naming the first bad one, and none is stored.
              security: [{bearer: []}]
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/AckRequest"}
              responses:
                "204": {description: Every ack is stored.}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "413": {$ref: "#/components/responses/PayloadTooLarge"}
                "503": {$ref: "#/components/responses/Unavailable"}
            get:
              operationId: checkpoints
              summary: The device's checkpoints in the space, as acks.
              security: [{bearer: []}]
              parameters:
                - {$ref: "#/components/parameters/space"}
                - {$ref: "#/components/parameters/device_id"}
              responses:
                "200":
                  description: The checkpoints, sorted by type.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/AckList"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "503": {$ref: "#/components/responses/Unavailable"}
            delete:
              operationId: clearCheckpoints
              summary: Clear the device's checkpoints in the space, all or those of some types.
              security: [{bearer: []}]
              parameters:
                - {$ref: "#/components/parameters/space"}
                - {$ref: "#/components/parameters/device_id"}
                - name: types
                  in: query
                  required: false
                  description: "1 to 100 comma-separated types (entity names); all of them when absent."
                  schema:
                    type: string
                    pattern: "^[A-Za-z][A-Za-z0-9_.-]{0,63}(,[A-Za-z][A-Za-z0-9_.-]{0,63}){0,99}$"
              responses:
                "204": {description: The checkpoints are cleared.}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /auth/refresh:
            post:
              operationId: refresh
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
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "413": {$ref: "#/components/responses/PayloadTooLarge"}
          /admin/tokens:
            post:
              operationId: issueToken
              summary: Create a grant of some spaces and issue its first token pair (admin token only).
              description: >
                For an app's own backend: after its sign-in, it asks for a device's tokens and
                hands them to the device. A repeated space counts once. The pair refreshes on
                /auth/refresh as any other.
              security: [{bearer: []}]
              requestBody:
                required: true
                content:
                  application/json:
                    schema:
                      type: object
                      required: [spaces]
                      properties:
                        spaces:
                          type: array
                          minItems: 1
                          maxItems: \(AdminTokenRequest.maxSpaces)
                          items: {$ref: "#/components/schemas/SpaceName"}
                        ttl:
                          type: integer
                          format: int64
                          minimum: 1
                          maximum: \(AdminTokenRequest.maxTTL)
                          default: \(AdminTokenRequest.defaultTTL)
                          description: The lifetime of each access token of the grant, in seconds.
              responses:
                "201":
                  description: The grant's first pair, shown once.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/IssuedTokens"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "413": {$ref: "#/components/responses/PayloadTooLarge"}
            get:
              operationId: listTokens
              summary: Every grant, newest first (admin token only).
              security: [{bearer: []}]
              responses:
                "200":
                  description: The grants.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [grants]
                        properties:
                          grants:
                            type: array
                            items: {$ref: "#/components/schemas/Grant"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
          /admin/tokens/{grant_id}:
            delete:
              operationId: revokeToken
              summary: Revoke a grant; its access and refresh tokens stop working at once (admin token only).
              security: [{bearer: []}]
              parameters:
                - {name: grant_id, in: path, required: true, schema: {type: string}}
              responses:
                "204": {description: The grant is revoked.}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "404": {$ref: "#/components/responses/NotFound"}
          /admin/spaces:
            get:
              operationId: listSpaces
              summary: A page of spaces with their head, floor, log size, last write and recent writes (admin token only).
              security: [{bearer: []}]
              parameters:
                - name: after
                  in: query
                  required: false
                  description: List the spaces whose name is above this one (the next_after of the previous page).
                  schema: {$ref: "#/components/schemas/SpaceName"}
                - name: limit
                  in: query
                  required: false
                  schema: {type: integer, minimum: 1, maximum: \(ConsoleAdminRoutes.maxSpaces), default: \(ConsoleAdminRoutes.defaultSpaces)}
              responses:
                "200":
                  description: The spaces, in name order.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [spaces]
                        properties:
                          spaces:
                            type: array
                            items: {$ref: "#/components/schemas/ConsoleSpace"}
                          next_after:
                            allOf: [{$ref: "#/components/schemas/SpaceName"}]
                            description: Present when the page is full; the after of the next page.
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /admin/spaces/{space}:
            get:
              operationId: getSpace
              summary: One space, the devices this server saw in it, and its stream checkpoints (admin token only).
              security: [{bearer: []}]
              parameters:
                - {name: space, in: path, required: true, schema: {$ref: "#/components/schemas/SpaceName"}}
              responses:
                "200":
                  description: >
                    The space's figures; its devices, most recently seen first; its stream
                    checkpoints by device and type, at most \(ConsoleAdminRoutes.maxCheckpoints).
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [space, log_id, head_seq, floor_seq, mutations, devices, checkpoints, checkpoints_truncated]
                        properties:
                          space: {$ref: "#/components/schemas/SpaceName"}
                          log_id: {type: string}
                          head_seq: {$ref: "#/components/schemas/Seq"}
                          floor_seq: {$ref: "#/components/schemas/Seq"}
                          mutations: {type: integer, format: int64, minimum: 0}
                          last_write_at: {type: string, format: date-time}
                          devices:
                            type: array
                            items: {$ref: "#/components/schemas/ConsoleDevice"}
                          checkpoints:
                            type: array
                            items: {$ref: "#/components/schemas/ConsoleCheckpoint"}
                          checkpoints_truncated: {type: boolean}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "404": {$ref: "#/components/responses/NotFound"}
                "503": {$ref: "#/components/responses/Unavailable"}
          /admin/conflicts:
            get:
              operationId: listConflicts
              summary: The newest conflicts this server process reported in push answers (admin token only).
              security: [{bearer: []}]
              parameters:
                - name: limit
                  in: query
                  required: false
                  schema: {type: integer, minimum: 1, maximum: \(ConsoleAdminRoutes.maxConflicts), default: \(ConsoleAdminRoutes.defaultConflicts)}
              responses:
                "200":
                  description: The conflicts, newest first; kept in memory, bounded, empty after a restart.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [conflicts]
                        properties:
                          conflicts:
                            type: array
                            items: {$ref: "#/components/schemas/ConsoleConflict"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
          /admin/health:
            get:
              operationId: adminHealth
              summary: The storage's kind and reachability, the server's uptime and its device registry (admin token only).
              security: [{bearer: []}]
              responses:
                "200":
                  description: The storage answers.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/ConsoleHealth"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "503":
                  description: The storage does not answer (status unavailable, with the error).
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/ConsoleHealth"}
          /console:
            get:
              operationId: console
              summary: The operator console, an HTML page that reads /admin with an admin token the operator enters.
              responses:
                "200":
                  description: The page; it holds no data.
                  content:
                    text/html:
                      schema: {type: string}
          /console/console.js:
            get:
              operationId: consoleScript
              summary: The console's script.
              responses:
                "200":
                  description: The script.
                  content:
                    text/javascript:
                      schema: {type: string}
          /console/console.css:
            get:
              operationId: consoleStyle
              summary: The console's style sheet.
              responses:
                "200":
                  description: The style sheet.
                  content:
                    text/css:
                      schema: {type: string}
          /healthz:
            get:
              operationId: health
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
              operationId: metrics
              summary: Prometheus metrics.
              responses:
                "200":
                  description: Prometheus text exposition format.
                  content:
                    text/plain:
                      schema: {type: string}
          /openapi.yaml:
            get:
              operationId: openapi
              summary: This document.
              responses:
                "200":
                  description: The OpenAPI document.
                  content:
                    application/yaml:
                      schema: {type: string}
        """
    }

    /// One error answer of the document: its name under `components/responses`, its status's
    /// code (PROTOCOL.md, "Errors"), what it means, and whether it carries `Retry-After`.
    private struct ErrorAnswer {
        var name: String
        var code: String
        var description: String
        var retryAfter = false
    }

    private static let errorAnswers = [
        ErrorAnswer(
            name: "BadRequest",
            code: "bad_request",
            description: "Malformed JSON, a missing or ill-typed field, a value out of range."
        ),
        ErrorAnswer(name: "Unauthorized", code: "unauthorized", description: "A missing, malformed, unknown or expired token."),
        ErrorAnswer(
            name: "Forbidden",
            code: "forbidden",
            description: "The token's scope does not hold the space, or the route is for the other kind of token (admin or spaces)."
        ),
        ErrorAnswer(name: "NotFound", code: "not_found", description: "No such resource in the spaces of the token."),
        ErrorAnswer(
            name: "CursorAhead",
            code: "cursor_ahead",
            description: "since_seq is above the space's head; reset the copy of the space and start again."
        ),
        ErrorAnswer(name: "PayloadTooLarge", code: "payload_too_large", description: "The body or one payload is over its limit."),
        ErrorAnswer(
            name: "UnsupportedMediaType",
            code: "unsupported_media_type",
            description: "The request body's Content-Encoding is not gzip or identity, or is gzip on a server whose compression is off."
        ),
        ErrorAnswer(
            name: "RateLimited",
            code: "rate_limited",
            description: "Too many requests; retry after Retry-After seconds.",
            retryAfter: true
        ),
        ErrorAnswer(name: "Unavailable", code: "unavailable", description: "The storage does not answer; retry later."),
    ]

    /// The entries of `components/responses`: one per error status, whose body admits only
    /// that status's code.
    private static var errorResponses: String {
        errorAnswers.map { answer in
            let headers = answer.retryAfter ? "\n      headers: {Retry-After: {$ref: \"#/components/headers/Retry-After\"}}" : ""
            return """
                    \(answer.name):
                      description: "\(answer.code): \(answer.description)"\(headers)
                      content:
                        application/json:
                          schema:
                            type: object
                            required: [error]
                            properties:
                              error:
                                type: object
                                required: [code, message]
                                properties:
                                  code: {type: string, enum: [\(answer.code)]}
                                  message: {type: string}
                """
        }.joined(separator: "\n")
    }
}
