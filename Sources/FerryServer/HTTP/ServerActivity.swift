import FerryCore
import FerryLog
import Synchronization

/// What this server process saw of its devices, for the operator console: per space the
/// devices that pushed or pulled (when, and the cursor of their last pull), and the recent
/// conflicts its push answers reported.
///
/// It lives in memory and costs no database write: a push or a pull updates it under a lock.
/// It covers this process only (in a cluster, each server sees the devices that reach it),
/// starts empty on every start, and is bounded: at most ``Limits/spaces`` spaces and
/// ``Limits/devicesPerSpace`` devices per space, the least recently seen going first, and the
/// newest ``Limits/conflicts`` conflicts. A pull names its device only when it sends
/// `exclude_device`; a pull without it is not recorded.
public final class ServerActivity: Sendable {
    /// The bounds of the registry. The defaults keep it well under a few megabytes.
    public struct Limits: Sendable, Hashable {
        /// The spaces remembered; the least recently active goes first. Default 1000.
        public var spaces: Int
        /// The devices remembered per space; the least recently seen goes first. Default 100.
        public var devicesPerSpace: Int
        /// The conflicts remembered, newest first. Default 200.
        public var conflicts: Int

        /// Creates limits.
        public init(spaces: Int = 1000, devicesPerSpace: Int = 100, conflicts: Int = 200) {
            self.spaces = max(1, spaces)
            self.devicesPerSpace = max(1, devicesPerSpace)
            self.conflicts = max(1, conflicts)
        }
    }

    /// One device of one space, as this process last saw it.
    public struct Device: Sendable, Hashable {
        /// The device's id.
        public var deviceID: String
        /// When it last pushed, in milliseconds since 1970; `nil` when it did not.
        public var lastPushMilliseconds: Int64?
        /// When it last pulled (with `exclude_device` naming it); `nil` when it did not.
        public var lastPullMilliseconds: Int64?
        /// The `latest_seq` of its last pull: the cursor it will send next; `nil` before a pull.
        public var cursor: Int64?
        /// The highest seq its pushes were stored under, as this process saw it.
        public var lastPushedSeq: Int64?
        /// The newest of its push and pull times.
        public var lastSeenMilliseconds: Int64 { max(lastPushMilliseconds ?? 0, lastPullMilliseconds ?? 0) }
    }

    /// A conflict reported in a push answer, with where and when.
    public struct Conflict: Sendable, Hashable {
        /// The space of the push.
        public var space: String
        /// The device that pushed.
        public var deviceID: String
        /// When the push was answered, in milliseconds since 1970.
        public var milliseconds: Int64
        /// The report the device got.
        public var report: ConflictReport
    }

    private struct SpaceDevices {
        var devices: [String: Device] = [:]
        /// The order of use of each device: higher is more recent.
        var used: [String: UInt64] = [:]
        var lastUse: UInt64 = 0
    }

    private struct State {
        var spaces: [String: SpaceDevices] = [:]
        var conflicts: [Conflict] = []
        /// The slot the next conflict goes to once the ring is full.
        var nextConflict = 0
        var clock: UInt64 = 0
    }

    /// The bounds it keeps.
    public let limits: Limits
    /// The clock of the times it records.
    public let clock: WallClock
    private let state = Mutex(State())

    /// Creates an empty registry.
    /// - Parameters:
    ///   - limits: How much it remembers.
    ///   - clock: Gives the times it records.
    public init(limits: Limits = Limits(), clock: WallClock = .system) {
        self.limits = limits
        self.clock = clock
    }

    /// Records a push answered to `deviceID` in `space`: its time, the highest seq stored, and
    /// the conflicts reported.
    public func recordPush(space: String, deviceID: String, response: PushResponse) {
        let now = clock.nowMilliseconds()
        let highest = response.acks.lazy.map(\.seq).max()
        update(space: space, deviceID: deviceID) { device in
            device.lastPushMilliseconds = now
            if let highest { device.lastPushedSeq = max(device.lastPushedSeq ?? 0, highest) }
        }
        guard !response.conflicts.isEmpty else { return }
        let limit = limits.conflicts
        state.withLock { state in
            for report in response.conflicts {
                let conflict = Conflict(space: space, deviceID: deviceID, milliseconds: now, report: report)
                if state.conflicts.count < limit {
                    state.conflicts.append(conflict)
                } else {
                    state.conflicts[state.nextConflict] = conflict
                }
                state.nextConflict = (state.nextConflict + 1) % limit
            }
        }
    }

    /// Records a pull answered to `deviceID` in `space` with `cursor` as its `latest_seq`.
    public func recordPull(space: String, deviceID: String, cursor: Int64) {
        let now = clock.nowMilliseconds()
        update(space: space, deviceID: deviceID) { device in
            device.lastPullMilliseconds = now
            device.cursor = cursor
        }
    }

    /// The devices of `space` remembered, most recently seen first.
    public func devices(of space: String) -> [Device] {
        state.withLock { state in
            guard let entry = state.spaces[space] else { return [] }
            return entry.devices.values.sorted { (entry.used[$0.deviceID] ?? 0) > (entry.used[$1.deviceID] ?? 0) }
        }
    }

    /// The number of devices remembered in each space.
    public func deviceCounts() -> [String: Int] {
        state.withLock { $0.spaces.mapValues(\.devices.count) }
    }

    /// How many conflicts it remembers now (at most ``Limits/conflicts``).
    public var conflictCount: Int { state.withLock { $0.conflicts.count } }

    /// The conflicts remembered, newest first, at most `limit` of them.
    public func conflicts(limit: Int) -> [Conflict] {
        state.withLock { state in
            let ordered: [Conflict]
            if state.conflicts.count < limits.conflicts {
                ordered = state.conflicts
            } else {
                ordered = Array(state.conflicts[state.nextConflict...] + state.conflicts[..<state.nextConflict])
            }
            return Array(ordered.reversed().prefix(max(0, limit)))
        }
    }

    private func update(space: String, deviceID: String, _ change: (inout Device) -> Void) {
        let limits = limits
        state.withLock { state in
            state.clock += 1
            let use = state.clock
            if state.spaces[space] == nil, state.spaces.count >= limits.spaces {
                // The space whose newest use is the oldest goes.
                let oldest = state.spaces.min { $0.value.lastUse < $1.value.lastUse }?.key
                if let oldest { state.spaces[oldest] = nil }
            }
            var entry = state.spaces.removeValue(forKey: space) ?? SpaceDevices()
            if entry.devices[deviceID] == nil, entry.devices.count >= limits.devicesPerSpace {
                let oldest = entry.used.min { $0.value < $1.value }?.key
                if let oldest {
                    entry.devices[oldest] = nil
                    entry.used[oldest] = nil
                }
            }
            var device = entry.devices[deviceID] ?? Device(deviceID: deviceID)
            change(&device)
            entry.devices[deviceID] = device
            entry.used[deviceID] = use
            entry.lastUse = use
            state.spaces[space] = entry
        }
    }
}
