import Foundation
import Glibc
import TestSupport
import WALArchive
import XCTest

/// The built tools through FaultProxy in front of the local S3 (moto or RGW,
/// `WAL_ARCHIVE_TEST_S3`) at the scale of an archive's day rather than one scripted request
/// (FaultToleranceTests proves each retry path on its own): every fault kind the proxy has, on
/// each kind of request it can affect, for whole runs of pushes and a whole recovery with its
/// prefetch worker:
/// - on 30 % of the requests every push and every fetch still ends 0, with exact bytes;
/// - on every request the exit codes follow the contract (wal-push 1; wal-fetch 255, or 1 in
///   standby mode), nothing is written to %p, and stalled or trickling endpoints are abandoned
///   within the retry budget (each call ends; no duration is asserted).
/// Every push that said 0 is checked at once in the store (directly, not through the proxy),
/// and the archive is compared object by object with its sources at the end. The faults
/// injected per kind are printed (`faults:` lines).
final class FaultInjectionTests: BuiltToolTestCase {
    static let segmentSize = 1 << 20

    private var server: LocalS3Server!
    private var proxy: FaultProxy!
    private var direct: [String: String] = [:]

    override func setUpWithError() throws {
        try super.setUpWithError()
        server = try LocalS3Server.shared()
        direct = server.toolEnvironment("faults", retryBudget: 60)
        try TestArchives.initialize(environment: direct)
        let proxy = try FaultProxy(upstream: server.endpoint)
        self.proxy = proxy
        addTeardownBlock { proxy.stop() }
    }

    /// The tools' environment through the proxy: the same archive as `direct`.
    private func proxied(budget: Int, lowSpeedTimeout: Int, _ extra: [String: String] = [:]) -> [String: String] {
        direct.merging(["WAL_ARCHIVE_ENDPOINT": proxy.endpoint, "WAL_ARCHIVE_RETRY_BUDGET": String(budget),
                        "WAL_ARCHIVE_LOW_SPEED_TIMEOUT": String(lowSpeedTimeout)].merging(extra) { $1 }) { $1 }
    }

    // MARK: What each kind of request can suffer

    private static let transient: [FaultProxy.Fault] = [.reset, .resetAfterForwarding, .stall,
                                                        .status(503, code: "SlowDown"), .status(500, code: "InternalError")]
    /// Uploads: their answer has no body, so only the request can be damaged.
    private static let putFaults = transient + [.flipRequestByte]
    /// HEAD: no body at all.
    private static let headFaults = transient
    /// Downloads: the body can be cut, damaged or trickled (fast enough to finish).
    private static let objectGetFaults = transient + [.cutBody(fraction: 0.5), .flipResponseByte,
                                                      .trickle(bytesPerSecond: 256 * 1024)]
    private static let listingFaults = transient + [.cutBody(fraction: 0.5), .trickle(bytesPerSecond: 64 * 1024)]

    private static let puts = FaultProxy.RequestFilter(methods: ["PUT"])
    private static let heads = FaultProxy.RequestFilter(methods: ["HEAD"])
    private static let listings = FaultProxy.RequestFilter(methods: ["GET"], targetContains: "list-type")

    /// Faults on `probability` of every request, each request drawing from what its kind can
    /// suffer (the filters are disjoint, so the probability is per request).
    private static func plan(probability: Double, seed: UInt64) -> FaultProxy.Plan {
        FaultProxy.Plan(rules: [.init(faults: putFaults, probability: probability, filter: puts),
                                .init(faults: headFaults, probability: probability, filter: heads),
                                .init(faults: objectGetFaults, probability: probability, filter: .objectGets),
                                .init(faults: listingFaults, probability: probability, filter: listings)],
                        seed: seed)
    }

    // MARK: Faults on a third of the requests

    func testWithFaultsOnAThirdOfTheRequestsEveryPushAndFetchEndsZeroWithExactBytes() throws {
        let count = ProcessInfo.processInfo.environment["WAL_ARCHIVE_TEST_FAULT_SEGMENTS"].flatMap { Int($0) } ?? 40
        let seed = ProcessInfo.processInfo.environment["WAL_ARCHIVE_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        print("faults: seed \(seed) (WAL_ARCHIVE_TEST_SEED=\(seed) repeats the plan)")
        let walDirectory = dataDirectory + "/pg_wal"
        try FileManager.default.createDirectory(atPath: walDirectory + "/archive_status", withIntermediateDirectories: true)
        // What a server archives: segments, a backup history file, a timeline history file.
        var sources: [String: Data] = [:]
        var order: [String] = []
        for number in 1...count {
            let name = segmentName(timeline: 1, number: number)
            sources[name] = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: Self.segmentSize).bytes
            order.append(name)
            if number == 2 {
                let backup = segmentName(timeline: 1, number: 2) + ".00000028.backup"
                sources[backup] = Data(("START WAL LOCATION: 0/200028 (file \(segmentName(timeline: 1, number: 2)))\n"
                    + "STOP WAL LOCATION: 0/200100 (file \(segmentName(timeline: 1, number: 2)))\n"
                    + "CHECKPOINT LOCATION: 0/200060\nLABEL: faults\n").utf8)
                order.append(backup)
            }
        }
        sources["00000002.history"] = Data("1\t0/\(String(count + 1, radix: 16, uppercase: true))00000\tno recovery target specified\n".utf8)
        order.append("00000002.history")
        for name in order {
            if !FileManager.default.fileExists(atPath: walDirectory + "/" + name) {
                try XCTUnwrap(sources[name]).write(to: URL(fileURLWithPath: walDirectory + "/" + name))
            }
            XCTAssertTrue(FileManager.default.createFile(atPath: walDirectory + "/archive_status/\(name).ready", contents: Data()))
        }

        proxy.plan = Self.plan(probability: 0.3, seed: seed)
        // A stall costs the low-speed timeout (2 s), then the request is sent again.
        let pushing = proxied(budget: 60, lowSpeedTimeout: 2, ["WAL_ARCHIVE_PUSH_AHEAD": "2"])
        let audit = try ArchiveAudit(environment: direct, scratch: try makeTemporaryDirectory(self, "faults-audit"))
        let digests = sources.mapValues(ArchiveAudit.sha256Hex)
        for name in order {
            let push = try run("wal-push", ["pg_wal/" + name], environment: pushing)
            XCTAssertEqual(push.status, 0, "\(name): \(push.stderr)")
            if push.status == 0 {
                try audit.requireStored([name: try XCTUnwrap(digests[name])], "wal-push \(name) said 0")
            }
            try FileManager.default.moveItem(atPath: walDirectory + "/archive_status/\(name).ready",
                                             toPath: walDirectory + "/archive_status/\(name).done")
        }
        let pushFaults = proxy.records.filter { $0.fault != nil }

        // A recovery of everything in the same data directory, its pg_wal emptied as a restored
        // base backup's is, prefetch on (K = 1: a worker fetches the next 16 segments).
        for file in try FileManager.default.contentsOfDirectory(atPath: walDirectory) where !file.hasPrefix(".") {
            try FileManager.default.removeItem(atPath: walDirectory + "/" + file)
        }
        XCTAssertTrue(FileManager.default.createFile(atPath: dataDirectory + "/recovery.signal", contents: Data()))
        let fetching = proxied(budget: 60, lowSpeedTimeout: 2, ["WAL_ARCHIVE_PREFETCH": "1"])
        for name in order {
            let target = name.hasSuffix(".history") ? "pg_wal/RECOVERYHISTORY" : "pg_wal/RECOVERYXLOG"
            unlink(dataDirectory + "/" + target)
            let fetch = try run("wal-fetch", [name, target], environment: fetching)
            XCTAssertEqual(fetch.status, 0, "\(name): \(fetch.stderr)")
            XCTAssertTrue(FileManager.default.contents(atPath: dataDirectory + "/" + target) == sources[name], "\(name) restored")
        }
        PrefetchWorkers.waitUntilIdle(walDirectory: walDirectory)
        let allFaults = proxy.records.filter { $0.fault != nil }

        // The archive, read directly: exactly what was pushed, each file exact.
        let compared = try audit.requireExactly(digests)
        let requests = proxy.records.count
        XCTAssertGreaterThan(allFaults.count, requests / 5, "about 30 % of \(requests) requests")
        print("faults: \(requests) requests, \(allFaults.count) faulted (\(pushFaults.count) while pushing), all survived: "
              + "\(order.count) pushes and \(order.count) fetches ended 0, \(compared) bytes compared")
        for (kind, number) in Dictionary(grouping: allFaults, by: { $0.fault!.description }).mapValues(\.count).sorted(by: { $0.key < $1.key }) {
            print("faults: \(kind): \(number) injected, survived")
        }
    }

    // MARK: Faults on every request

    /// Each kind of fault on every request: one push and one fetch (in archive recovery and in
    /// standby mode) per kind, each ending with the contract's exit code (a call still running
    /// long after its budget fails the test) and nothing written to %p.
    func testWithFaultsOnEveryRequestTheExitCodesFollowTheContractAndNothingIsWritten() throws {
        // One segment and one history file in the archive, stored without faults.
        let stored = segmentName(timeline: 1, number: 0x10)
        _ = try TestSegments.writeSegment(name: stored, in: dataDirectory + "/pg_wal", segmentSize: Self.segmentSize)
        try Data("1\t0/1100000\tno recovery target specified\n".utf8).write(to: URL(fileURLWithPath: dataDirectory + "/pg_wal/00000002.history"))
        for name in [stored, "00000002.history"] {
            let push = try run("wal-push", ["pg_wal/" + name], environment: direct)
            XCTAssertEqual(push.status, 0, push.stderr)
        }
        let budget = 4
        // The low-speed limit (1 KiB/s for 2 s) ends a stall; a trickle above it only the budget.
        let slow = FaultProxy.Fault.trickle(bytesPerSecond: 2048)
        let pushKinds = Self.putFaults
        let fetchKinds = Self.transient + [.cutBody(fraction: 0.5), .flipResponseByte, slow]
        var injected: [String: Int] = [:]
        var number = 0x20
        var answerLost: Set<String> = []

        for fault in pushKinds {
            proxy.plan = .init(faults: [fault], probability: 1)
            let before = proxy.faultsInjected
            number += 1
            let name = segmentName(timeline: 1, number: number)
            _ = try TestSegments.writeSegment(name: name, in: dataDirectory + "/pg_wal", segmentSize: Self.segmentSize)
            let push = try runBounded("wal-push", ["pg_wal/" + name], in: dataDirectory, budget: budget,
                                      environment: proxied(budget: budget, lowSpeedTimeout: 2, ["WAL_ARCHIVE_PUSH_AHEAD": "0"]))
            XCTAssertEqual(push.status, 1, "\(fault): \(push.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: walDirectory + "/.wal-archive/pushed/" + name), "\(fault): a record")
            XCTAssertEqual(push.stderr.filter { $0 == "\n" }.count, 1, "\(fault): one line: \(push.stderr)")
            injected["push " + fault.description] = proxy.faultsInjected - before
            if fault == .resetAfterForwarding { answerLost.insert(name) }
        }

        for standby in [false, true] {
            let data = try makeTemporaryDirectory(self, standby ? "faults-standby" : "faults-recovery")
            try FileManager.default.createDirectory(atPath: data + "/pg_wal", withIntermediateDirectories: true)
            XCTAssertTrue(FileManager.default.createFile(atPath: data + (standby ? "/standby.signal" : "/recovery.signal"), contents: Data()))
            let expected: Int32 = standby ? 1 : 255
            for fault in fetchKinds {
                proxy.plan = .init(faults: [fault], probability: 1)
                let before = proxy.faultsInjected
                // A trickle delays, so it defeats only a body too large for the budget at its
                // rate: the segment (compressed, a few hundred KB), not the 40-byte history file.
                let files = [(stored, "pg_wal/RECOVERYXLOG")] + (fault == slow ? [] : [("00000002.history", "pg_wal/RECOVERYHISTORY")])
                for (name, target) in files {
                    let fetch = try runBounded("wal-fetch", [name, target], in: data, budget: budget,
                                               environment: proxied(budget: budget, lowSpeedTimeout: 2, ["WAL_ARCHIVE_PREFETCH": "0"]))
                    XCTAssertEqual(fetch.status, expected, "\(fault), \(name), standby \(standby): \(fetch.stderr)")
                    XCTAssertFalse(FileManager.default.fileExists(atPath: data + "/" + target), "\(fault): %p written")
                    XCTAssertEqual(temporaryFiles(under: data + "/pg_wal"), [], "\(fault): temporary files left")
                }
                injected["fetch\(standby ? " (standby)" : "") " + fault.description, default: 0] += proxy.faultsInjected - before
            }
        }
        // The store holds the two files stored before, and at most the one whose upload took
        // effect while every answer to it was lost (exit 1 is right: it could not be confirmed).
        let names = try ArchiveAudit(environment: direct, scratch: try makeTemporaryDirectory(self, "faults-audit")).keysByName()
        XCTAssertTrue(Set(names.keys).isSubset(of: answerLost.union([stored, "00000002.history"])), "\(names.keys.sorted())")
        XCTAssertTrue(Set(names.keys).isSuperset(of: [stored, "00000002.history"]), "\(names.keys.sorted())")
        for (kind, count) in injected.sorted(by: { $0.key < $1.key }) {
            XCTAssertGreaterThan(count, 0, kind)
            print("faults: every request: \(kind): \(count) injected, contract held")
        }
    }

    // MARK: Helpers

    /// `tool` run in `directory` as PostgreSQL runs it; a call still running long after its
    /// budget (ten times it, plus a minute for a loaded machine) is terminated, which fails the
    /// test: it did not abandon the endpoint. No duration is asserted otherwise.
    private func runBounded(_ tool: String, _ arguments: [String], in directory: String, budget: Int,
                            environment: [String: String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = TestPaths.builtProducts.appendingPathComponent(tool)
        process.arguments = arguments
        process.environment = HermeticEnvironment.merged(with: ["PATH": "/usr/bin:/bin"].merging(environment) { $1 })
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let limit = budget * 10 + 60
        let overdue = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(limit), execute: overdue)
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        overdue.cancel()
        XCTAssertEqual(process.terminationReason, .exit, "\(tool) still running \(limit) s after it started (budget \(budget) s)")
        return (process.terminationStatus, String(decoding: stderr, as: UTF8.self))
    }
}
