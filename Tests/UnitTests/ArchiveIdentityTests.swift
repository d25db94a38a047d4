import XCTest
import TestSupport
@testable import WALArchive

final class ArchiveIdentityTests: XCTestCase {
    private let identity = ArchiveIdentity(systemIdentifier: 7_300_000_000_000_000_001, postgresMajorVersion: 15,
                                           walSegmentSize: .postgresDefault, created: "2026-11-28T10:15:00Z")

    func testTheEncodedIdentityIsThisDocumentAndParsesBack() throws {
        XCTAssertEqual(String(decoding: identity.encoded, as: UTF8.self), """
            {
              "created": "2026-11-28T10:15:00Z",
              "format": 1,
              "postgresql_major_version": 15,
              "system_identifier": "7300000000000000001",
              "wal_segment_size": 16777216
            }

            """)
        XCTAssertEqual(try ArchiveIdentity(parsing: identity.encoded), identity)
        let largest = ArchiveIdentity(systemIdentifier: .max, postgresMajorVersion: 18, walSegmentSize: WALSegmentSize(bytes: 1 << 30)!,
                                      created: "2099-12-31T23:59:59Z")
        XCTAssertEqual(try ArchiveIdentity(parsing: largest.encoded), largest)
    }

    func testSameSystemIgnoresOnlyTheCreationTime() {
        var other = identity
        other.created = "2027-01-01T00:00:00Z"
        XCTAssertTrue(identity.isSameSystem(as: other))
        other.systemIdentifier += 1
        XCTAssertFalse(identity.isSameSystem(as: other))
        other = identity
        other.walSegmentSize = WALSegmentSize(bytes: 1 << 20)!
        XCTAssertFalse(identity.isSameSystem(as: other))
        other = identity
        other.postgresMajorVersion = 16
        XCTAssertFalse(identity.isSameSystem(as: other))
    }

    private func document(replacing field: String, with value: String?) -> [UInt8] {
        var fields = [
            "created": "\"2026-11-28T10:15:00Z\"", "format": "1", "postgresql_major_version": "15",
            "system_identifier": "\"7300000000000000001\"", "wal_segment_size": "16777216",
        ]
        fields[field] = value
        return Array(("{" + fields.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}").utf8)
    }

    func testEveryFieldIsRequiredAndChecked() {
        let bad: [(String, String?)] = [
            ("format", nil), ("format", "\"1\""), ("system_identifier", nil), ("system_identifier", "7300000000000000001"),
            ("system_identifier", "\"0\""), ("system_identifier", "\"07300000000000000001\""), ("system_identifier", "\"-1\""),
            ("system_identifier", "\"18446744073709551616\""), ("system_identifier", "\"73e3\""), ("system_identifier", "\"\""),
            ("postgresql_major_version", nil), ("postgresql_major_version", "12"), ("postgresql_major_version", "\"15\""),
            ("wal_segment_size", nil), ("wal_segment_size", "16777215"), ("wal_segment_size", "524288"),
            ("wal_segment_size", "2147483648"), ("created", nil), ("created", "\"2026-11-28 10:15:00Z\""),
            ("created", "\"2026-11-28T10:15:00\""), ("created", "1"),
        ]
        for (field, value) in bad {
            XCTAssertThrowsError(try ArchiveIdentity(parsing: document(replacing: field, with: value)), "\(field) = \(value ?? "missing")")
        }
        XCTAssertNoThrow(try ArchiveIdentity(parsing: document(replacing: "format", with: "1")))
    }

    /// A field this version does not know may change how objects are written: refused, never
    /// skipped; so is a newer format.
    func testUnknownFieldsAndNewerFormatsAreRefusedByName() {
        var withExtra = document(replacing: "format", with: "1")
        withExtra.removeLast()
        withExtra += Array(", \"encryption\": {\"key_ids\": [\"k1\"]}}".utf8)
        XCTAssertThrowsError(try ArchiveIdentity(parsing: withExtra)) {
            XCTAssertEqual($0 as? ArchiveIdentityFormatError, .unknownField("encryption"))
            XCTAssertTrue(($0 as? ArchiveIdentityFormatError)?.message.contains("upgrade wal-archive") ?? false)
        }
        XCTAssertThrowsError(try ArchiveIdentity(parsing: document(replacing: "format", with: "3"))) {
            XCTAssertEqual($0 as? ArchiveIdentityFormatError, .unsupportedFormat(3))
        }
        // Format 2 (encrypted) without its encryption fields.
        XCTAssertThrowsError(try ArchiveIdentity(parsing: document(replacing: "format", with: "2"))) {
            XCTAssertEqual($0 as? ArchiveIdentityFormatError, .invalidField("encryption", expected: "\"aes-256-gcm\""))
        }
        XCTAssertThrowsError(try ArchiveIdentity(parsing: Array("[1]".utf8)))
        XCTAssertThrowsError(try ArchiveIdentity(parsing: []))
    }

    func testRandomlyDamagedIdentitiesNeverCrash() {
        var generator = SeededGenerator(seed: 15)
        let valid = identity.encoded
        var refused = 0
        for _ in 0..<20_000 {
            var bytes = valid
            let position = Int(generator.next() % UInt64(bytes.count))
            bytes[position] = UInt8(truncatingIfNeeded: generator.next())
            if (try? ArchiveIdentity(parsing: bytes)) == nil { refused += 1 }
        }
        XCTAssertGreaterThan(refused, 0)
    }
}
