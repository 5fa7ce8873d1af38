import Crypto
import FerryCore

/// Cuts a space's state, read in key order, into chunks whose boundaries stay where the
/// records did not change.
///
/// A chunk ends after a record whose key hash is a multiple of ``average`` (on average one
/// record in `average`: content-defined boundaries, as rsync and restic cut files), or when
/// it reaches the most records, or before a record that would take it over the most bytes.
/// A boundary depends only on the record it follows, so a change, insert or delete moves
/// the cut points of its own chunk at most: the chunks before and after keep their bytes and
/// their ids, and a later snapshot shares them. A forced cut (a full chunk) shifts the cuts
/// only until the next boundary of the keys' hashes.
package struct SnapshotChunker {
    /// A chunk that was cut: its body, id and record count.
    package struct Cut: Sendable {
        /// The NDJSON body.
        package var body: [UInt8]
        /// The SHA-256 of the body, lowercase hex.
        package var id: String
        /// The records in it.
        package var records: Int
    }

    /// The most records in a chunk.
    package let maxRecords: Int
    /// The most bytes in a chunk (a single larger record still gets a chunk of its own).
    package let maxBytes: Int
    /// One key in `average` ends a chunk.
    package let average: UInt64
    private var writer = JSONWriter(capacity: 1 << 16)
    private var records = 0

    /// Creates a chunker; boundaries fall on average every `maxRecords / 2` records.
    package init(maxRecords: Int, maxBytes: Int) {
        self.maxRecords = max(1, maxRecords)
        self.maxBytes = max(1, maxBytes)
        self.average = UInt64(max(1, maxRecords / 2))
    }

    /// Adds the next record in key order; answers the chunks it completes (none, one, or two
    /// when the record both overflows the current chunk and ends its own).
    package mutating func add(_ record: SnapshotRecord) -> [Cut] {
        var cuts: [Cut] = []
        let before = writer.bytes.count
        record.writeLine(to: &writer)
        if records > 0 && writer.bytes.count > maxBytes {
            // The record does not fit: the chunk ends before it, and it starts the next.
            let line = Array(writer.bytes[before...])
            writer.bytes.removeSubrange(before...)
            cuts.append(cut())
            writer.bytes.append(contentsOf: line)
        }
        records += 1
        if records >= maxRecords || Self.keyHash(record.entity, record.entityKey) % average == 0 {
            cuts.append(cut())
        }
        return cuts
    }

    /// Ends the last chunk; `nil` when no record is left.
    package mutating func finish() -> Cut? {
        records > 0 ? cut() : nil
    }

    private mutating func cut() -> Cut {
        let body = writer.bytes
        let cut = Cut(body: body, id: Self.chunkID(of: body), records: records)
        writer.bytes.removeAll(keepingCapacity: true)
        records = 0
        return cut
    }

    /// The SHA-256 of `body` as 64 lowercase hex digits: a chunk's id.
    package static func chunkID(of body: [UInt8]) -> String {
        SHA256.hash(data: body).hexString
    }

    /// A stable 64-bit hash of a record's key (FNV-1a, then a finalizer that spreads its
    /// bits): the same on every server and every run, unlike `Hasher`.
    package static func keyHash(_ entity: String, _ key: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in entity.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        hash = (hash ^ 0) &* 0x0000_0100_0000_01b3
        for byte in key.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        hash = hash &* 0xc4ce_b9fe_1a85_ec53
        hash ^= hash >> 33
        return hash
    }
}

extension Digest {
    /// The digest as lowercase hex.
    package var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(Self.byteCount * 2)
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
