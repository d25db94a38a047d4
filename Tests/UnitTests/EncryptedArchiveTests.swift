import Foundation
import TestSupport
import XCTest
@testable import WALArchive

/// Client-side encryption through the built tools, on `file://` archives.
final class EncryptedArchiveTests: EncryptedArchiveTestCase {
    func testAnEncryptedArchiveStoresCiphertextAndRestoresTheExactSegment() throws {
        try encryptedRoundTrip(directoryEnvironment)
    }

    func testMissingWrongAndDamagedKeysOrObjectsAreRefusedWithoutLeakingTheKey() throws {
        let plain = try makeTemporaryDirectory(self, "plain-archive")
        try refusals(encrypted: directoryEnvironment, plain: ["WAL_ARCHIVE_URL": "file://" + plain])
    }

    func testKeyRotationAddsAKeyAndOlderObjectsReadThroughTheDecryptionKeys() throws {
        try rotation(directoryEnvironment)
    }

    func testAnEncryptedIdentityIsFormat2WhichTheFormat1ReaderRefusesAndItsFieldsAreChecked() throws {
        let identity = ArchiveIdentity(systemIdentifier: 7, postgresMajorVersion: 15, walSegmentSize: .postgresDefault,
                                       created: "2026-01-01T00:00:00Z", encryptionKeyIDs: ["0123456789abcdef"])
        let text = String(decoding: identity.encoded, as: UTF8.self)
        XCTAssertTrue(text.contains("\"format\": 2"), text)
        XCTAssertTrue(text.contains("\"encryption\": \"aes-256-gcm\""), text)
        XCTAssertEqual(try ArchiveIdentity(parsing: identity.encoded), identity)
        var plain = identity
        plain.encryptionKeyIDs = nil
        XCTAssertTrue(String(decoding: plain.encoded, as: UTF8.self).contains("\"format\": 1"))
        // Encryption fields in a format 1 document are unknown fields.
        let smuggled = text.replacingOccurrences(of: "\"format\": 2", with: "\"format\": 1")
        XCTAssertThrowsError(try ArchiveIdentity(parsing: Array(smuggled.utf8))) { error in
            XCTAssertEqual(error as? ArchiveIdentityFormatError, .unknownField("encryption"))
        }
        func document(_ change: (inout [String: JSONValue]) -> Void) -> [UInt8] {
            guard case .object(var members) = try! JSONValue(parsing: identity.encoded) else { return [] }
            change(&members)
            return Array(JSONValue.object(members).encoded().utf8)
        }
        XCTAssertEqual(try ArchiveIdentity(parsing: document { _ in }), identity)
        let broken: [(String, (inout [String: JSONValue]) -> Void)] = [
            ("upper-case id", { $0["encryption_key_ids"] = .array([.string("0123456789ABCDEF")]) }),
            ("short id", { $0["encryption_key_ids"] = .array([.string("0123")]) }),
            ("no ids", { $0["encryption_key_ids"] = .array([]) }),
            ("an id twice", { $0["encryption_key_ids"] = .array([.string("0123456789abcdef"), .string("0123456789abcdef")]) }),
            ("ids missing", { $0["encryption_key_ids"] = nil }),
            ("another cipher", { $0["encryption"] = .string("aes-128-gcm") }),
            ("cipher missing", { $0["encryption"] = nil }),
            ("format 3", { $0["format"] = .integer(3) }),
        ]
        for (label, change) in broken {
            XCTAssertThrowsError(try ArchiveIdentity(parsing: document(change)), label)
        }
    }
}
