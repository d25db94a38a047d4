import Foundation
import XCTest
import WALArchive

/// Client-side encryption through the built tools, against any destination: the directory
/// half runs in the unit tier, the S3 half against the local S3 server. Every tool output of
/// a scenario is kept, and `assertNoKeyInOutput` proves no key's hex ever appeared in it.
open class EncryptedArchiveTestCase: BuiltToolTestCase {
    /// Two keys (64 hex digits each, as the key files hold them).
    public let keyHex = (0..<32).map { String(format: "%02x", ($0 * 7 + 3) & 0xff) }.joined()
    public let otherKeyHex = (0..<32).map { String(format: "%02x", ($0 * 13 + 200) & 0xff) }.joined()
    public var keyFile = ""
    public var otherKeyFile = ""
    /// Everything the tools printed in this test.
    public private(set) var outputs: [String] = []

    open override func setUpWithError() throws {
        try super.setUpWithError()
        let folder = try makeTemporaryDirectory(self, "keys")
        keyFile = folder + "/archive.key"
        otherKeyFile = folder + "/other.key"
        for (path, hex) in [(keyFile, keyHex), (otherKeyFile, otherKeyHex)] {
            _ = FileManager.default.createFile(atPath: path, contents: Data((hex + "\n").utf8), attributes: [.posixPermissions: 0o600])
        }
    }

    public func keyID(_ hex: String) -> String {
        EncryptionKey(bytes: Array(hex.utf8).chunked2().map { UInt8($0, radix: 16)! })!.id
    }

    /// Runs a tool and keeps what it printed.
    public func tool(_ name: String, _ arguments: [String], _ environment: [String: String]) throws -> Result {
        let result = try run(name, arguments, environment: environment)
        outputs.append(result.stdout + result.stderr)
        return result
    }

    /// No key's hex (either case) in anything a tool printed.
    public func assertNoKeyInOutput(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(outputs.isEmpty, file: file, line: line)
        for output in outputs {
            for hex in [keyHex, otherKeyHex] {
                for form in [hex, hex.uppercased(), String(hex.prefix(16)), String(hex.suffix(16))] {
                    XCTAssertFalse(output.contains(form), "key material in output: \(output)", file: file, line: line)
                }
            }
        }
    }

    public func withKey(_ environment: [String: String], _ file: String? = nil, older: [String] = []) -> [String: String] {
        var result = environment
        result["WAL_ARCHIVE_ENCRYPTION_KEY_FILE"] = file ?? keyFile
        if !older.isEmpty { result["WAL_ARCHIVE_DECRYPTION_KEY_FILES"] = older.joined(separator: ":") }
        return result
    }

    /// `wal-archive init --wal-file` (the built tool) with a 1 MiB segment of the test system.
    public func initialize(_ environment: [String: String], file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        let folder = try makeTemporaryDirectory(self, "init-source")
        let source = try TestSegments.writeSegment(name: segmentName(timeline: 1, number: 1), in: folder, segmentSize: 1 << 20)
        return try tool("wal-archive", ["init", "--wal-file", source.path], environment)
    }

    /// Writes segment `number` (1 MiB) into pg_wal; returns its name and bytes.
    public func walSegment(_ number: Int, seed: UInt64 = 7) throws -> (name: String, bytes: Data) {
        let name = segmentName(timeline: 1, number: number)
        let segment = try TestSegments.writeSegment(name: name, in: walDirectory, segmentSize: 1 << 20, seed: seed)
        return (name, segment.bytes)
    }

    public func store(_ environment: [String: String]) throws -> (store: any ObjectStore, layout: StorageLayout) {
        let configuration = try Configuration.load(options: CommandLineOptions(), environment: HermeticEnvironment.merged(with: environment))
        return (try configuration.destination.makeStore(), configuration.layout)
    }

    /// The data object of `name` (not its claim), with its bytes.
    public func storedObject(_ name: String, _ environment: [String: String]) throws -> (key: String, bytes: [UInt8], info: ObjectInfo) {
        let (store, layout) = try store(environment)
        let listed = try store.listObjects(prefix: layout.root, startAfter: nil, limit: 1000)
        let key = try XCTUnwrap(listed.map(\.key).first { $0.contains(name) && !$0.contains("/names/") && !$0.hasPrefix("names/") },
                                "\(name) not stored: \(listed.map(\.key))")
        let sink = CollectingSink()
        let info = try store.get(key: key, into: sink)
        return (key, sink.bytes, info)
    }

    /// Replaces the object `name` with `bytes`, keeping its metadata.
    public func replaceObject(_ name: String, _ environment: [String: String], with change: ([UInt8]) -> [UInt8]) throws {
        let object = try storedObject(name, environment)
        try putBytes(try store(environment).store, key: object.key, change(object.bytes), metadata: object.info.metadata)
    }

    /// A fetch that must fail with 255, one line naming `expected`, and nothing at %p or
    /// under a temporary name.
    public func assertFetchRefused(_ name: String, _ environment: [String: String], mentioning expected: String,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        var expected = expected
        var context = ""
        if let open = expected.range(of: " (") {
            context = String(expected[open.upperBound...].dropLast())
            expected = String(expected[..<open.lowerBound])
        }
        let fetch = try tool("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment)
        XCTAssertEqual(fetch.status, 255, context + ": " + fetch.stderr, file: file, line: line)
        assertOneLine(fetch, "wal-fetch: ", file: file, line: line)
        XCTAssertTrue(fetch.stderr.contains(expected), "expected \"\(expected)\" in: \(fetch.stderr)", file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: walDirectory + "/RECOVERYXLOG"), "a file at %p", file: file, line: line)
        XCTAssertEqual(try temporaryFiles(), [], file: file, line: line)
    }

    /// Fetches `name` and compares it with `bytes`.
    public func assertFetched(_ name: String, _ bytes: Data, _ environment: [String: String],
                              file: StaticString = #filePath, line: UInt = #line) throws {
        let path = walDirectory + "/RECOVERYXLOG"
        try? FileManager.default.removeItem(atPath: path)
        let fetch = try tool("wal-fetch", [name, "pg_wal/RECOVERYXLOG"], environment)
        XCTAssertEqual(fetch.status, 0, fetch.stderr, file: file, line: line)
        XCTAssertEqual(FileManager.default.contents(atPath: path), bytes, "restored bytes differ", file: file, line: line)
        try? FileManager.default.removeItem(atPath: path)
    }

    // MARK: - Scenarios

    /// An archive created by `init` with a key is encrypted (format 2, the key's id); wal-push
    /// stores ciphertext (our header, not zstd, no plaintext run) with the encryption metadata;
    /// wal-fetch restores the exact bytes; `check` reports it.
    public func encryptedRoundTrip(_ destination: [String: String]) throws {
        let environment = withKey(destination)
        let created = try initialize(environment)
        XCTAssertEqual(created.status, 0, created.stderr)
        XCTAssertTrue(created.stdout.contains("encrypted with aes-256-gcm, key ids \(keyID(keyHex))"), created.stdout)
        let (store, layout) = try store(destination)
        let identity = try XCTUnwrap(try ArchiveIdentityObject.read(from: store, layout: layout,
                                                                    storeIdentity: try Configuration.load(options: CommandLineOptions(),
                                                                        environment: HermeticEnvironment.merged(with: destination)).storeIdentity))
        XCTAssertEqual(identity.encryptionKeyIDs, [keyID(keyHex)])
        XCTAssertTrue(String(decoding: identity.encoded, as: UTF8.self).contains("\"format\": 2"))

        for number in 1...2 {
            let segment = try walSegment(number, seed: UInt64(number))
            let push = try tool("wal-push", ["pg_wal/" + segment.name], environment)
            XCTAssertEqual(push.status, 0, push.stderr)
            let object = try storedObject(segment.name, destination)
            XCTAssertEqual(object.info.metadata["wal-encryption"], "aes-256-gcm")
            XCTAssertEqual(object.info.metadata["wal-encryption-key-id"], keyID(keyHex))
            XCTAssertEqual(object.info.metadata["wal-sha256"], SHA256Hasher.hash(segment.bytes).hexString)
            XCTAssertEqual(Array(object.bytes.prefix(7)), Array("WALAENC".utf8), "not our encrypted stream")
            XCTAssertNil(object.bytes.firstRange(of: Array(segment.bytes[100..<132])), "plaintext visible in the object")
            try assertFetched(segment.name, segment.bytes, environment)
            // Older keys alone read it too (the decryption keys), without the write key.
            var readOnly = destination
            readOnly["WAL_ARCHIVE_DECRYPTION_KEY_FILES"] = otherKeyFile + ":" + keyFile
            try assertFetched(segment.name, segment.bytes, readOnly)
        }
        let check = try tool("wal-archive", ["check"], environment)
        XCTAssertTrue(check.stdout.contains("client-side encryption: the archive is encrypted with aes-256-gcm, key ids "
                                            + keyID(keyHex)), check.stdout)
        assertNoKeyInOutput()
    }

    /// What must be refused, each with one line naming what to do and no key in any output:
    /// a push without a key into an encrypted archive, a push with a key into a plain one, a
    /// fetch without a key, with the wrong key, of a changed and of a cut object, and a key
    /// file that is missing or not a key.
    public func refusals(encrypted: [String: String], plain: [String: String]) throws {
        XCTAssertEqual(try initialize(withKey(encrypted)).status, 0)
        XCTAssertEqual(try initialize(plain).status, 0)
        let segment = try walSegment(1)
        XCTAssertEqual(try tool("wal-push", ["pg_wal/" + segment.name], withKey(encrypted)).status, 0)

        let second = try walSegment(2, seed: 2)
        let withoutKey = try tool("wal-push", ["pg_wal/" + second.name], encrypted)
        XCTAssertEqual(withoutKey.status, 1)
        assertOneLine(withoutKey, "wal-push: ")
        XCTAssertTrue(withoutKey.stderr.contains("is encrypted") && withoutKey.stderr.contains("WAL_ARCHIVE_ENCRYPTION_KEY_FILE"),
                      withoutKey.stderr)
        let intoPlain = try tool("wal-push", ["pg_wal/" + second.name], withKey(plain))
        XCTAssertEqual(intoPlain.status, 1)
        assertOneLine(intoPlain, "wal-push: ")
        XCTAssertTrue(intoPlain.stderr.contains("is not encrypted"), intoPlain.stderr)
        let plainStore = try store(plain)
        XCTAssertEqual(try plainStore.store.listObjects(prefix: plainStore.layout.root, startAfter: nil, limit: 10).map(\.key),
                       [plainStore.layout.root + "wal-archive.json"], "stored into the plain archive")

        try assertFetchRefused(segment.name, encrypted, mentioning: "no key is configured")
        try assertFetchRefused(segment.name, withKey(encrypted, otherKeyFile), mentioning: keyID(keyHex))

        let missing = withKey(encrypted, keyFile + ".missing")
        let pushMissing = try tool("wal-push", ["pg_wal/" + second.name], missing)
        XCTAssertEqual(pushMissing.status, 2)
        assertOneLine(pushMissing, "wal-push: ")
        try assertFetchRefused(segment.name, missing, mentioning: "WAL_ARCHIVE_ENCRYPTION_KEY_FILE")
        let notAKey = try makeTemporaryDirectory(self, "bad-key") + "/short.key"
        _ = FileManager.default.createFile(atPath: notAKey, contents: Data(keyHex.prefix(62).utf8))
        try assertFetchRefused(segment.name, withKey(encrypted, notAKey), mentioning: "64 hex digits")

        let original = try storedObject(segment.name, encrypted).bytes
        let header = 36, chunk = 64 * 1024 + 16
        let damages: [(String, ([UInt8]) -> [UInt8])] = [
            ("a flipped byte in the first chunk", { var bytes = $0; bytes[header + 10] ^= 0x20; return bytes }),
            ("a flipped byte in the last tag", { var bytes = $0; bytes[bytes.count - 1] ^= 0x01; return bytes }),
            ("cut at a chunk boundary", { Array($0.prefix(header + chunk)) }),
            ("cut inside a chunk", { Array($0.prefix(header + chunk + 100)) }),
            ("a changed header", { var bytes = $0; bytes[25] ^= 0x01; return bytes }),
        ]
        XCTAssertGreaterThan(original.count, header + 2 * chunk, "the test needs more than two chunks")
        for (damage, change) in damages {
            try replaceObject(segment.name, encrypted) { _ in change(original) }
            try assertFetchRefused(segment.name, withKey(encrypted), mentioning: "cannot be decrypted (\(damage))")
        }
        // A plaintext object with fitting metadata in an encrypted archive is refused too.
        let object = try storedObject(segment.name, encrypted)
        var plaintextMetadata = object.info.metadata
        plaintextMetadata["wal-encryption"] = nil
        plaintextMetadata["wal-encryption-key-id"] = nil
        plaintextMetadata["wal-compression"] = "none"
        try putBytes(try store(encrypted).store, key: object.key, Array(segment.bytes), metadata: plaintextMetadata)
        try assertFetchRefused(segment.name, withKey(encrypted), mentioning: "it is not encrypted, and encryption is required")
        assertNoKeyInOutput()
    }

    /// Rotation: an object of the old key stays readable through the decryption keys; the new
    /// key is refused until `wal-archive add-key` lists it, then stores; the old one still may.
    public func rotation(_ destination: [String: String]) throws {
        XCTAssertEqual(try initialize(withKey(destination)).status, 0)
        let old = try walSegment(1)
        XCTAssertEqual(try tool("wal-push", ["pg_wal/" + old.name], withKey(destination)).status, 0)

        let newKey = withKey(destination, otherKeyFile)
        let next = try walSegment(2, seed: 2)
        let refused = try tool("wal-push", ["pg_wal/" + next.name], newKey)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("wal-archive add-key"), refused.stderr)

        let added = try tool("wal-archive", ["add-key"], newKey)
        XCTAssertEqual(added.status, 0, added.stderr)
        XCTAssertTrue(added.stdout.contains("now takes key \(keyID(otherKeyHex))"), added.stdout)
        let again = try tool("wal-archive", ["add-key"], newKey)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("already"), again.stdout)

        let pushed = try tool("wal-push", ["pg_wal/" + next.name], newKey)
        XCTAssertEqual(pushed.status, 0, pushed.stderr)
        XCTAssertEqual(try storedObject(next.name, destination).info.metadata["wal-encryption-key-id"], keyID(otherKeyHex))

        try assertFetchRefused(old.name, newKey, mentioning: keyID(keyHex))
        let rotated = withKey(destination, otherKeyFile, older: [keyFile])
        try assertFetched(old.name, old.bytes, rotated)
        try assertFetched(next.name, next.bytes, rotated)
        let check = try tool("wal-archive", ["check"], newKey)
        XCTAssertTrue(check.stdout.contains("key ids \(keyID(keyHex)), \(keyID(otherKeyHex))"), check.stdout)
        XCTAssertTrue(check.stdout.contains("no configured key has the id \(keyID(keyHex))"), check.stdout)
        let third = try walSegment(3, seed: 3)
        XCTAssertEqual(try tool("wal-push", ["pg_wal/" + third.name], withKey(destination)).status, 0,
                       "the old key is still listed")
        assertNoKeyInOutput()
    }
}

extension Array where Element == UInt8 {
    fileprivate func chunked2() -> [String] {
        stride(from: 0, to: count, by: 2).map { String(decoding: self[$0..<($0 + 2)], as: UTF8.self) }
    }
}
