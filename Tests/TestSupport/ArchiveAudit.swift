import Foundation
import XCTest
import WALArchive

/// The archive as it stands, object by object, read through the library's own store (never
/// through a fault proxy) and compared with the files it came from: what "reported archived"
/// and "the archive is complete and exact" mean, checked independently of the tools.
public final class ArchiveAudit {
    public let store: any ObjectStore
    public let layout: StorageLayout
    private let scratch: String

    /// The archive `environment` names (the tools' variables), with `scratch` for downloads.
    public init(environment: [String: String], scratch: String) throws {
        let configuration = try Configuration.load(options: CommandLineOptions(), environment: HermeticEnvironment.merged(with: environment))
        store = try configuration.destination.makeStore()
        layout = configuration.layout
        self.scratch = scratch
    }

    /// The data objects of every archived file, by file name (a name under two keys would be a
    /// duplicate). Name claims (`names/`) and the archive identity are bookkeeping, not files.
    public func keysByName() throws -> [String: [String]] {
        var keys: [String: [String]] = [:]
        let claims = layout.root + NameClaim.folder + "/"
        for object in try store.listObjects(prefix: layout.root, startAfter: nil, limit: Int.max) where !object.key.hasPrefix(claims) {
            let file = FileOperations.baseName(object.key)
            let name = CompressionAlgorithm.allCases.map(\.keySuffix).filter { !$0.isEmpty && file.hasSuffix($0) }
                .first.map { String(file.dropLast($0.count)) } ?? file
            guard (try? WALFileName(parsing: name)) != nil else { continue }
            keys[name, default: []].append(object.key)
        }
        return keys
    }

    /// Fails unless every name of `digests` is stored once, under a key whose metadata
    /// carries its SHA-256: what an exit 0 of wal-push, or a push-ahead record, claims.
    public func requireStored(_ digests: [String: String], _ context: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let stored = try keysByName()
        for (name, sha256Hex) in digests.sorted(by: { $0.key < $1.key }) {
            let keys = stored[name] ?? []
            guard keys.count == 1, let key = keys.first else {
                XCTFail("\(context): \(name) reported archived, stored under \(keys)", file: file, line: line)
                continue
            }
            XCTAssertEqual(try store.head(key: key)?.metadata[PayloadMetadata.sha256Name], sha256Hex, "\(context): \(key)",
                           file: file, line: line)
        }
    }

    /// Fails unless the object under `key` holds content with SHA-256 `sha256Hex` (a push-ahead
    /// record names its key).
    public func requireObject(_ key: String, sha256Hex: String, _ context: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try store.head(key: key)?.metadata[PayloadMetadata.sha256Name], sha256Hex, "\(context): \(key)",
                       file: file, line: line)
    }

    /// The object under `key`, downloaded and verified as `name` (size, SHA-256, header).
    public func restoredBytes(key: String, name: String) throws -> Data {
        let sink = try VerifyingFileSink(directory: scratch, expecting: try WALFileName(parsing: name))
        try store.get(key: key, into: sink)
        try sink.finish()
        let path = scratch + "/" + name
        try sink.commit(to: path)
        defer { unlink(path) }
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    /// Fails unless the archive holds exactly the names of `expected` (name → SHA-256 of its
    /// source), each once, each downloading to bytes of that SHA-256. Returns the bytes compared.
    @discardableResult
    public func requireExactly(_ expected: [String: String], file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let stored = try keysByName()
        XCTAssertEqual(Set(stored.keys), Set(expected.keys), "the archive's names", file: file, line: line)
        var compared = 0
        for (name, sha256Hex) in expected.sorted(by: { $0.key < $1.key }) {
            guard let keys = stored[name] else { continue }
            XCTAssertEqual(keys.count, 1, "\(name) under \(keys)", file: file, line: line)
            let restored = try restoredBytes(key: keys[0], name: name)
            XCTAssertEqual(Self.sha256Hex(restored), sha256Hex, "\(name) restores to other bytes than its source", file: file, line: line)
            compared += restored.count
        }
        return compared
    }

    /// SHA-256 of `data`, lower-case hex, as `wal-sha256` holds it.
    public static func sha256Hex(_ data: Data) -> String {
        SHA256Hasher.hash(data).hexString
    }
}
