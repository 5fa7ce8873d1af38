/// One acknowledgement token of the event stream, `TYPE|SEQ`: "the consumer has processed
/// every event of `TYPE` up to `SEQ`".
///
/// The grammar (protocol, "Event stream with acknowledgements"): exactly one `|`; `TYPE` is
/// an entity name, or `SyncComplete`, or `SyncReset`; `SEQ` is a decimal integer without sign
/// or leading zeros, at least 1, except `SyncReset|0`, the only ack with 0 and the only form
/// `SyncReset` takes.
public struct StreamAck: Sendable, Hashable, CustomStringConvertible {
    /// The type of the stream's last line, which carries the stream's upper bound.
    public static let completeType = "SyncComplete"
    /// The type of the line that tells the device to start over.
    public static let resetType = "SyncReset"
    /// The acknowledgement of a `SyncReset` line: clears all of the device's checkpoints.
    public static let reset = StreamAck(uncheckedType: resetType, seq: 0)
    /// `SyncComplete|0`: the end of the stream of a space whose log is empty. Acks have a seq
    /// of 1 at least, so it is read in a stream but never acknowledged (there is nothing to
    /// record); ``init(parsing:)`` refuses it.
    public static let completeOfEmptyLog = StreamAck(uncheckedType: completeType, seq: 0)

    /// The entity name, ``completeType`` or ``resetType``.
    public let type: String
    /// The seq acknowledged: at least 1, or 0 for ``reset``.
    public let seq: Int64

    /// The acknowledgement of events of `type` up to `seq`.
    /// - Throws: ``FerryError`` `bad_request` when `type` is not an entity name or
    ///   ``completeType``, or `seq` is below 1. Use ``reset`` for a reset.
    public init(type: String, seq: Int64) throws {
        guard type != Self.resetType, ProtocolRules.isValidEntity(type), seq >= 1 else {
            throw FerryError(.badRequest, "ack '\(type)|\(seq)' is not TYPE|SEQ with an entity name and a seq ≥ 1")
        }
        self.init(uncheckedType: type, seq: seq)
    }

    private init(uncheckedType type: String, seq: Int64) {
        self.type = type
        self.seq = seq
    }

    /// Parses `text` by the grammar above.
    /// - Throws: ``FerryError`` `bad_request` naming the ack and what is wrong with it.
    public init(parsing text: String) throws {
        let bytes = text.utf8
        guard let bar = bytes.firstIndex(of: UInt8(ascii: "|")) else {
            throw Self.invalid(text, "it has no '|'")
        }
        let typePart = String(text[..<bar])
        let seqPart = bytes[bytes.index(after: bar)...]
        guard !seqPart.contains(UInt8(ascii: "|")) else { throw Self.invalid(text, "it has more than one '|'") }
        guard ProtocolRules.isValidEntity(typePart) else {
            throw Self.invalid(text, "its type is not an entity name, SyncComplete or SyncReset")
        }
        guard let first = seqPart.first, seqPart.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw Self.invalid(text, "its seq is not a decimal integer without sign")
        }
        guard let seq = Int64(Substring(seqPart)) else { throw Self.invalid(text, "its seq is out of range") }
        if typePart == Self.resetType {
            guard seqPart.count == 1, seq == 0 else { throw Self.invalid(text, "SyncReset is only acknowledged as SyncReset|0") }
            self = .reset
            return
        }
        guard first != UInt8(ascii: "0") else {
            throw Self.invalid(text, seq == 0 ? "its seq is 0 (only SyncReset|0 has 0)" : "its seq has a leading zero")
        }
        self.init(uncheckedType: typePart, seq: seq)
    }

    /// Whether this is ``reset``.
    public var isReset: Bool { type == Self.resetType }

    /// Whether this acknowledges a `SyncComplete` line.
    public var isComplete: Bool { type == Self.completeType }

    /// The token's text, `TYPE|SEQ`.
    public var description: String { "\(type)|\(seq)" }

    private static func invalid(_ text: String, _ problem: String) -> FerryError {
        let shown = text.utf8.count > 200 ? String(decoding: text.utf8.prefix(200), as: UTF8.self) + "…" : text
        return FerryError(.badRequest, "ack \"\(shown)\" is not valid: \(problem)")
    }
}

extension StreamAck {
    /// What a list of acks does to a device's checkpoints, as the server applies it: a reset
    /// first (when the list holds one), then for each type the highest seq acknowledged.
    public struct Merged: Sendable, Hashable {
        /// Whether the list holds `SyncReset|0`: the device's checkpoints are cleared first.
        public var reset: Bool
        /// The highest seq acknowledged per type (``StreamAck/completeType`` included).
        public var highest: [String: Int64]

        /// Merges `acks`: max-wins per type, whatever their order.
        public init(_ acks: some Sequence<StreamAck>) {
            var reset = false
            var highest: [String: Int64] = [:]
            for ack in acks {
                if ack.isReset {
                    reset = true
                } else {
                    highest[ack.type] = max(highest[ack.type] ?? 0, ack.seq)
                }
            }
            self.reset = reset
            self.highest = highest
        }
    }
}
