import Foundation
import XCTest
import WALArchive

/// A fresh directory under `TestPaths.scratch`, removed by `XCTestCase.addTeardownBlock`.
public func makeTemporaryDirectory(_ test: XCTestCase, _ label: String = "wal-archive-test") throws -> String {
    let path = TestPaths.scratch.appendingPathComponent("\(label)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// Collects an object's bytes in memory (tests only).
public final class CollectingSink: ObjectSink {
    public var bytes: [UInt8] = []
    public var info: ObjectInfo?
    public var attempts = 0

    public init() {}

    public func begin(_ object: ObjectInfo) throws(StorageError) {
        attempts += 1
        info = object
        bytes.removeAll()
    }

    public func write(_ chunk: UnsafeRawBufferPointer) throws(StorageError) {
        // As typed bytes: appending the raw buffer itself iterates byte by byte in an
        // unoptimised test build.
        chunk.withMemoryRebound(to: UInt8.self) { bytes.append(contentsOf: $0) }
    }
}

/// Stores `bytes` under `key` through the store's ordinary `put`.
@discardableResult
public func putBytes(_ store: any ObjectStore, key: String, _ bytes: [UInt8], metadata: [String: String] = [:],
              ifAbsent: Bool = false) throws -> PutOutcome {
    try store.put(PutRequest(key: key, bytes: bytes, metadata: metadata, ifAbsent: ifAbsent))
}

/// 24-hex-digit WAL segment name.
public func segmentName(timeline: Int, number: Int) -> String {
    hex8(timeline) + hex8(number >> 8) + hex8(number & 0xff)
}

public func hex8(_ value: Int) -> String {
    let text = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: 8 - text.count) + text
}

/// `2026-01-01` plus `offset` days.
public func calendarDate(dayOffset: Int) -> String {
    UTCTime(secondsSinceEpoch: 1_767_225_600 + Int64(dayOffset) * 86_400).calendarDate
}

/// Every byte of an upload body, read as a store reads it (from offset 0, in order).
public func uploadBodyBytes(_ body: any UploadBody) throws -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: Int(body.length))
    var filled = 0
    while filled < bytes.count {
        let count = try bytes.withUnsafeMutableBytes { raw in
            try body.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[filled...]), at: Int64(filled))
        }
        guard count > 0 else { throw StorageError.localIO(detail: "the body ended after \(filled) of \(bytes.count) bytes") }
        filled += count
    }
    XCTAssertEqual(try bytes.withUnsafeMutableBytes { try body.read(into: $0, at: Int64(filled)) }, 0, "the body goes on")
    return bytes
}
