import TestSupport
import XCTest
@testable import WALArchive

/// The chunk format of client-side encryption (Payload/Encryption), on its own: what a reader
/// accepts is exactly what a writer with one of its keys wrote, whole and in order.
final class EncryptedStreamTests: XCTestCase {
    private let key = EncryptionKey(bytes: (0..<32).map { UInt8($0) })!
    private let otherKey = EncryptionKey(bytes: (0..<32).map { UInt8(255 - $0) })!
    private let chunkSize = 1000

    private func random(_ count: Int, seed: UInt64 = 7) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        return generator.uniformBytes(count: count)
    }

    /// Encrypts `plaintext`, pushed in pieces of `piece` bytes.
    private func encrypt(_ plaintext: [UInt8], key: EncryptionKey? = nil, chunkSize: Int? = nil, piece: Int = 333,
                         salt: [UInt8]? = nil) throws -> [UInt8] {
        let encryptor = try ChunkEncryptor(key: key ?? self.key, salt: salt, chunkSize: chunkSize ?? self.chunkSize)
        var output: [UInt8] = []
        var offset = 0
        while offset < plaintext.count {
            let end = min(plaintext.count, offset + piece)
            try plaintext[offset..<end].withUnsafeBytes { bytes in try encryptor.push(bytes) { output += $0 } }
            offset = end
        }
        try encryptor.finish { output += $0 }
        return output
    }

    private func decrypt(_ stream: [UInt8], keyring: EncryptionKeyring? = nil, piece: Int = 517) throws(EncryptionError) -> [UInt8] {
        let decryptor = ChunkDecryptor(keyring: keyring ?? EncryptionKeyring(writeKey: key, olderKeys: []))
        var output: [UInt8] = []
        var offset = 0
        do {
            while offset < stream.count {
                let end = min(stream.count, offset + piece)
                let slice = Array(stream[offset..<end])
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: slice.count, alignment: 1)
                defer { buffer.deallocate() }
                buffer.copyBytes(from: slice)
                try decryptor.push(UnsafeRawBufferPointer(buffer)) { (bytes: UnsafeRawBufferPointer) throws(Never) in output += bytes }
                offset = end
            }
            try decryptor.finish { (bytes: UnsafeRawBufferPointer) throws(Never) in output += bytes }
        } catch {
            switch error {
            case .cipher(let cipherError): throw cipherError
            }
        }
        return output
    }

    private func assertRefused(_ stream: [UInt8], _ expected: EncryptionError? = nil, keyring: EncryptionKeyring? = nil,
                               file: StaticString = #filePath, line: UInt = #line) {
        do {
            let plaintext = try decrypt(stream, keyring: keyring)
            XCTFail("accepted a stream that must be refused (\(plaintext.count) bytes out)", file: file, line: line)
        } catch {
            if let expected { XCTAssertEqual(error, expected, file: file, line: line) }
        }
    }

    private var chunkBytes: Int { chunkSize + 16 }

    func testRoundTripsEverySizeIncludingEmptyAndExactChunkMultiples() throws {
        for size in [0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3 * chunkSize, 3 * chunkSize + 7, 10_000] {
            let plaintext = random(size, seed: UInt64(size))
            for (pushPiece, readPiece) in [(1, 1), (333, 517), (size + 1, 100_000)] {
                let stream = try encrypt(plaintext, piece: max(1, pushPiece))
                XCTAssertEqual(Int64(stream.count), EncryptedStream.encryptedLength(ofPlaintext: Int64(size), chunkSize: chunkSize),
                               "length of \(size) bytes")
                XCTAssertEqual(try decrypt(stream, piece: readPiece), plaintext, "\(size) bytes, pushed \(pushPiece), read \(readPiece)")
            }
        }
    }

    func testTheDefaultChunkSizeRoundTripsASegmentSizedBody() throws {
        let plaintext = random(3 * EncryptedStream.defaultChunkSize + 12_345)
        let stream = try encrypt(plaintext, chunkSize: EncryptedStream.defaultChunkSize, piece: 256 * 1024)
        XCTAssertEqual(try decrypt(stream, piece: 16 * 1024), plaintext)
    }

    func testTheCiphertextHidesThePlaintextAndEachObjectGetsItsOwnSalt() throws {
        let plaintext = [UInt8](repeating: 0x41, count: 5000)
        let first = try encrypt(plaintext)
        let second = try encrypt(plaintext)
        XCTAssertNotEqual(first, second, "two objects of the same content must differ (random salt)")
        XCTAssertNil(first.firstRange(of: [UInt8](repeating: 0x41, count: 16)), "plaintext visible in the stream")
        let salt = [UInt8](repeating: 9, count: 16)
        XCTAssertEqual(try encrypt(plaintext, salt: salt), try encrypt(plaintext, salt: salt),
                       "the same key, salt and input must give the same bytes (a body compressed again while sent)")
    }

    func testAWrongKeyIsRefusedNamingTheObjectsKeyID() throws {
        let stream = try encrypt(random(2500))
        assertRefused(stream, .unknownKey(id: key.id, known: [otherKey.id]),
                      keyring: EncryptionKeyring(writeKey: otherKey, olderKeys: []))
    }

    func testAKeyWithTheRightIdButOtherBytesFailsAuthentication() throws {
        // The key id is in the header; a forged header naming the reader's key id must still fail.
        var stream = try encrypt(random(2500), key: otherKey)
        stream.replaceSubrange(8..<16, with: Array(Hex.decode(Array(key.id.utf8))!))
        assertRefused(stream, .authenticationFailed(chunk: 0))
    }

    func testAFlippedByteAnywhereIsRefused() throws {
        let plaintext = random(3 * chunkSize + 100)
        let stream = try encrypt(plaintext)
        // Every byte of the header, the first and last byte of every chunk and of every tag.
        var positions = Array(0..<EncryptedStream.headerBytes)
        var start = EncryptedStream.headerBytes
        while start < stream.count {
            let end = min(stream.count, start + chunkBytes)
            positions += [start, start + 1, end - 17, end - 16, end - 1]
            start = end
        }
        for position in positions {
            var damaged = stream
            damaged[position] ^= 0x01
            assertRefused(damaged)
        }
        // A flip in chunk 2's ciphertext names that chunk.
        var damaged = stream
        damaged[EncryptedStream.headerBytes + 2 * chunkBytes + 5] ^= 0x80
        assertRefused(damaged, .authenticationFailed(chunk: 2))
    }

    func testTruncationAtAndBetweenChunkBoundariesIsRefused() throws {
        let stream = try encrypt(random(3 * chunkSize + 100))
        let header = EncryptedStream.headerBytes
        for length in [0, 1, header - 1] {
            assertRefused(Array(stream.prefix(length)), .truncated)
        }
        assertRefused(Array(stream.prefix(header)), .truncated)
        // At chunk boundaries: the new last chunk was sealed as not last.
        assertRefused(Array(stream.prefix(header + chunkBytes)), .authenticationFailed(chunk: 0))
        assertRefused(Array(stream.prefix(header + 2 * chunkBytes)), .authenticationFailed(chunk: 1))
        assertRefused(Array(stream.prefix(header + 3 * chunkBytes)), .authenticationFailed(chunk: 2))
        // Between boundaries, and one byte short of the end.
        for length in [header + 10, header + chunkBytes + 500, stream.count - 1] {
            assertRefused(Array(stream.prefix(length)))
        }
    }

    func testTruncationOfAnExactMultipleAtItsLastBoundaryIsRefused() throws {
        let stream = try encrypt(random(3 * chunkSize))
        XCTAssertEqual(stream.count, EncryptedStream.headerBytes + 3 * chunkBytes)
        assertRefused(Array(stream.prefix(EncryptedStream.headerBytes + 2 * chunkBytes)), .authenticationFailed(chunk: 1))
    }

    func testReorderedDuplicatedAndDroppedChunksAreRefused() throws {
        let stream = try encrypt(random(4 * chunkSize + 300))
        let header = Array(stream.prefix(EncryptedStream.headerBytes))
        var chunks: [[UInt8]] = []
        var start = EncryptedStream.headerBytes
        while start < stream.count {
            chunks.append(Array(stream[start..<min(stream.count, start + chunkBytes)]))
            start += chunkBytes
        }
        XCTAssertEqual(chunks.count, 5)
        XCTAssertEqual(try decrypt(header + chunks.joined()), try decrypt(stream))
        assertRefused(header + chunks[1] + chunks[0] + chunks[2...].joined(), .authenticationFailed(chunk: 0))
        assertRefused(header + chunks[0] + chunks[0] + chunks[2...].joined(), .authenticationFailed(chunk: 1))
        assertRefused(header + chunks[0] + chunks[2...].joined(), .authenticationFailed(chunk: 1))
        // The last chunk dropped: chunk 3 was not sealed as last.
        assertRefused(header + chunks[0..<4].joined(), .authenticationFailed(chunk: 3))
        // Bytes after the last chunk.
        assertRefused(stream + [0])
        assertRefused(stream + chunks[4])
    }

    func testAChunkOfAnotherObjectIsRefused() throws {
        let plaintext = random(2 * chunkSize + 10)
        let first = try encrypt(plaintext)
        let second = try encrypt(plaintext)
        var spliced = first
        let range = EncryptedStream.headerBytes..<(EncryptedStream.headerBytes + chunkBytes)
        spliced.replaceSubrange(range, with: second[range])
        assertRefused(spliced, .authenticationFailed(chunk: 0))
    }

    func testAnObjectWrittenWithAnOlderKeyIsReadThroughTheDecryptionKeys() throws {
        let plaintext = random(2 * chunkSize + 77)
        let written = try encrypt(plaintext, key: otherKey)
        let rotated = EncryptionKeyring(writeKey: key, olderKeys: [otherKey])
        XCTAssertEqual(try decrypt(written, keyring: rotated), plaintext)
        XCTAssertEqual(try decrypt(try encrypt(plaintext), keyring: rotated), plaintext)
        XCTAssertEqual(rotated.ids, [key.id, otherKey.id])
        XCTAssertEqual(EncryptionKeyring(writeKey: nil, olderKeys: [otherKey, otherKey]).ids, [otherKey.id])
    }

    func testHeadersThatAreNotOursAreRefusedBeforeAnyKeyIsUsed() throws {
        var stream = try encrypt(random(100))
        stream[0] = UInt8(ascii: "X")
        assertRefused(stream, .notEncrypted)
        stream = try encrypt(random(100))
        stream[7] = 2
        assertRefused(stream, .unsupportedVersion(2))
        stream = try encrypt(random(100))
        stream.replaceSubrange(16..<20, with: [0xff, 0xff, 0xff, 0xff])
        assertRefused(stream, .invalidChunkSize(0xffff_ffff))
        stream.replaceSubrange(16..<20, with: [0, 0, 0, 0])
        assertRefused(stream, .invalidChunkSize(0))
    }

    func testKeysPrintOnlyTheirIdAndIdsAreStable() {
        XCTAssertEqual(key.id.count, 16)
        XCTAssertTrue(EncryptionKey.isKeyID(key.id))
        XCTAssertNotEqual(key.id, otherKey.id)
        XCTAssertEqual(EncryptionKey(bytes: (0..<32).map { UInt8($0) })?.id, key.id)
        let hex = (0..<32).map { UInt8($0) }.hexString
        for text in ["\(key)", String(reflecting: key), "\(EncryptionKeyring(writeKey: key, olderKeys: [otherKey]))"] {
            XCTAssertFalse(text.contains(hex), text)
            XCTAssertTrue(text.contains(key.id), text)
        }
        XCTAssertNil(EncryptionKey(bytes: [1, 2, 3]))
    }
}

/// Compress, then encrypt, in `PreparedUpload`: the body in memory and the body compressed and
/// encrypted again while sent (too large for `UploadMemory`) are the same bytes, and decrypt
/// and decompress to the file.
final class EncryptedUploadTests: XCTestCase {
    private let key = EncryptionKey(bytes: [UInt8](repeating: 0x5a, count: 32))!

    private func readBody(_ body: any UploadBody) throws -> [UInt8] {
        var bytes: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 100_000, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try body.read(into: buffer, at: Int64(bytes.count))
            if count == 0 { break }
            bytes += UnsafeRawBufferPointer(rebasing: buffer[..<count])
        }
        return bytes
    }

    private func decode(_ body: [UInt8], algorithm: CompressionAlgorithm) throws -> [UInt8] {
        let decryptor = ChunkDecryptor(keyring: EncryptionKeyring(writeKey: key, olderKeys: []))
        let decompressor = try StreamDecompressor(algorithm: algorithm)
        var output: [UInt8] = []
        var compressed: [UInt8] = []
        try body.withUnsafeBytes { bytes in try decryptor.push(bytes) { compressed += $0 } }
        try decryptor.finish { compressed += $0 }
        try compressed.withUnsafeBytes { bytes in try decompressor.push(bytes) { output += $0 } }
        try decompressor.finish { output += $0 }
        return output
    }

    func testInMemoryAndRecompressedEncryptedBodiesAreIdenticalAndDecodeToTheFile() throws {
        let folder = try makeTemporaryDirectory(self, "encrypted-upload")
        var generator = SeededGenerator(seed: 3)
        let original = generator.walLikeBytes(count: 3 << 20)
        let path = folder + "/000000010000000000000001"
        _ = FileManager.default.createFile(atPath: path, contents: Data(original))
        for algorithm in CompressionAlgorithm.allCases {
            let inMemory = try PreparedUpload(sourcePath: path, algorithm: algorithm, encryption: key, memory: UploadMemory(limit: 64 << 20))
            XCTAssertEqual(inMemory.bodySource, .memory, "\(algorithm): an encrypted body is never the source file")
            XCTAssertEqual(inMemory.metadata.encryptionKeyID, key.id)
            XCTAssertEqual(inMemory.metadata.dictionary["wal-encryption"], "aes-256-gcm")
            let memoryBytes = try readBody(inMemory.body)
            XCTAssertEqual(memoryBytes.count, Int(inMemory.bodyLength))
            XCTAssertEqual(SHA256Hasher.hash(memoryBytes).hexString, inMemory.bodySHA256Hex)
            XCTAssertEqual(try decode(memoryBytes, algorithm: algorithm), original, "\(algorithm)")

            let resent = try PreparedUpload(sourcePath: path, algorithm: algorithm, encryption: key, memory: UploadMemory(limit: 0))
            XCTAssertEqual(resent.bodySource, .recompressed, "\(algorithm)")
            // Read twice, as a retried PUT does: the same bytes each time, and what was announced.
            for _ in 0..<2 {
                let bytes = try readBody(resent.body)
                XCTAssertEqual(bytes.count, Int(resent.bodyLength), "\(algorithm)")
                XCTAssertEqual(SHA256Hasher.hash(bytes).hexString, resent.bodySHA256Hex, "\(algorithm)")
                XCTAssertEqual(try decode(bytes, algorithm: algorithm), original, "\(algorithm)")
            }
        }
    }
}

/// The encryption settings: a key file from the option, the environment or the config file,
/// older keys colon-separated, messages that name files and never show what they hold, and the
/// secret-file audit covering them.
final class EncryptionSettingsTests: XCTestCase {
    private let hex = String(repeating: "0f1e2d3c4b5a6978", count: 4)
    private let olderHex = String(repeating: "a1b2c3d4e5f60718", count: 4)

    private func load(_ arguments: [String], _ environment: [String: String]) throws -> Configuration {
        try Configuration.load(options: try CommandLineOptions.parse(arguments + ["x"]),
                               environment: ["WAL_ARCHIVE_URL": "file:///tmp/a", "WAL_ARCHIVE_CONFIG": "none"].merging(environment) { $1 })
    }

    func testKeysComeFromTheOptionTheEnvironmentOrTheConfigFileAndOlderKeysFromAList() throws {
        let folder = try makeTemporaryDirectory(self, "keys")
        let keyFile = folder + "/k", olderFile = folder + "/old"
        _ = FileManager.default.createFile(atPath: keyFile, contents: Data((hex + "\n").utf8), attributes: [.posixPermissions: 0o600])
        _ = FileManager.default.createFile(atPath: olderFile, contents: Data(olderHex.utf8), attributes: [.posixPermissions: 0o644])
        let key = EncryptionKey(bytes: Hex.decode(Array(hex.utf8))!)!
        let older = EncryptionKey(bytes: Hex.decode(Array(olderHex.utf8))!)!

        XCTAssertNil(try load([], [:]).encryptionKeys)
        XCTAssertEqual(try load(["--encryption-key-file", keyFile], [:]).encryptionKeys?.writeKey, key)
        let fromEnvironment = try load([], ["WAL_ARCHIVE_ENCRYPTION_KEY_FILE": keyFile, "WAL_ARCHIVE_DECRYPTION_KEY_FILES": olderFile + ":" + keyFile])
        XCTAssertEqual(fromEnvironment.encryptionKeys?.ids, [key.id, older.id])
        let readOnly = try load([], ["WAL_ARCHIVE_DECRYPTION_KEY_FILES": olderFile])
        XCTAssertNil(readOnly.encryptionKeys?.writeKey)
        XCTAssertEqual(readOnly.encryptionKeys?.ids, [older.id])

        let config = folder + "/wal-archive.conf"
        try "url = file:///tmp/b\nencryption_key_file = \(keyFile)\ndecryption_key_files = \(olderFile)\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let fromFile = try Configuration.load(options: try CommandLineOptions.parse(["--config", config, "x"]), environment: [:])
        XCTAssertEqual(fromFile.encryptionKeys?.ids, [key.id, older.id])

        // The audit of `wal-archive check` names the older key file, open to others.
        let warnings = SecretFileAudit.warnings(options: try CommandLineOptions.parse(["--config", config]), environment: [:])
        XCTAssertTrue(warnings.contains { $0.path == olderFile && $0.purpose.hasPrefix("decryption key") }, "\(warnings)")
        XCTAssertFalse(warnings.contains { $0.path == keyFile }, "\(warnings)")
        XCTAssertTrue(SecretFileAudit.warnings(options: try CommandLineOptions.parse([]),
                                               environment: ["WAL_ARCHIVE_CONFIG": "none", "WAL_ARCHIVE_ENCRYPTION_KEY_FILE": olderFile])
            .contains { $0.path == olderFile && $0.purpose.hasPrefix("encryption key") })
    }

    func testABadKeyFileIsNamedWithoutShowingItsContent() throws {
        let folder = try makeTemporaryDirectory(self, "keys")
        let file = folder + "/k"
        let content = String(hex.dropLast(2)) + "zz"
        _ = FileManager.default.createFile(atPath: file, contents: Data(content.utf8))
        for environment in [["WAL_ARCHIVE_ENCRYPTION_KEY_FILE": file], ["WAL_ARCHIVE_DECRYPTION_KEY_FILES": file],
                            ["WAL_ARCHIVE_ENCRYPTION_KEY_FILE": file + ".missing"]] {
            XCTAssertThrowsError(try load([], environment)) { error in
                let message = (error as? ConfigurationError)?.message ?? ""
                XCTAssertTrue(message.contains(file), message)
                XCTAssertFalse(message.contains(String(content.prefix(16))), message)
            }
        }
        // No option takes a key itself.
        XCTAssertThrowsError(try CommandLineOptions.parse(["--encryption-key", hex, "x"]))
    }
}
