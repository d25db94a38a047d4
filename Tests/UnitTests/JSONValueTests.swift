import XCTest
import TestSupport
@testable import WALArchive

final class JSONValueTests: XCTestCase {
    private func parse(_ text: String) throws -> JSONValue {
        try JSONValue(parsing: Array(text.utf8))
    }

    func testValidDocumentsParseAndEncodeBackToTheSameValue() throws {
        let document = try parse("""
             {"b": [1, -2, 0, 9223372036854775807, -9223372036854775808], "a": {"x": true, "y": false, "z": null},
              "s": "q\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00 é", "e": {}, "l": []}
            """)
        guard case .object(let members) = document else { return XCTFail("\(document)") }
        XCTAssertEqual(members["s"], .string("q\"\\/\u{08}\u{0C}\n\r\té😀 é"))
        XCTAssertEqual(members["b"], .array([.integer(1), .integer(-2), .integer(0), .integer(.max), .integer(.min)]))
        let encoded = document.encoded()
        XCTAssertEqual(try parse(encoded), document)
        XCTAssertEqual(try parse(encoded).encoded(), encoded, "encoding is deterministic")
    }

    func testEverythingOutsideTheStrictGrammarIsRefused() {
        let refused = [
            "", " ", "{", "}", "{\"a\":1,}", "[1,]", "{\"a\" 1}", "{a:1}", "{'a':1}", "{\"a\":1}x", "{\"a\":1}{}",
            "{\"a\":1,\"a\":2}", "01", "-", "-01", "1.5", "1e3", "1E3", "18446744073709551616", "9223372036854775808",
            "+1", "NaN", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\uZZZZ\"", "\"\\ud800\"", "\"\\udc00\"",
            "\"\\ud800\\u0041\"", "\"a\u{01}b\"", "\"tab\there\"", "\u{FEFF}{}",
            String(repeating: "[", count: 17) + String(repeating: "]", count: 17),
        ]
        for text in refused {
            XCTAssertThrowsError(try parse(text), text.debugDescription)
        }
        XCTAssertThrowsError(try JSONValue(parsing: [0x22, 0xC3, 0x28, 0x22]), "invalid UTF-8")
        XCTAssertThrowsError(try JSONValue(parsing: [0x22, 0xED, 0xA0, 0x80, 0x22]), "UTF-8 encoded surrogate")
        XCTAssertThrowsError(try JSONValue(parsing: Array(repeating: 0x20, count: JSONValue.maximumSize + 1)))
        XCTAssertNoThrow(try parse(String(repeating: "[", count: 16) + String(repeating: "]", count: 16)))
    }

    func testErrorsSayWhereAndWhat() {
        XCTAssertThrowsError(try parse("{\"a\": 1, \"a\": 2}")) {
            XCTAssertEqual(($0 as? JSONError)?.message, "the key \"a\" appears twice")
        }
        XCTAssertThrowsError(try parse("[1 2]")) {
            XCTAssertEqual(($0 as? JSONError)?.message, "byte 3: expected `,` or `]`")
        }
    }

    /// Random damage to a valid document never crashes the parser; whatever it accepts
    /// encodes and parses back to the same value.
    func testRandomlyDamagedDocumentsNeverCrashAndWhatParsesRoundTrips() throws {
        let valid = Array(ArchiveIdentity(systemIdentifier: 7_300_000_000_000_000_001, postgresMajorVersion: 15,
                                          walSegmentSize: .postgresDefault, created: "2026-01-01T00:00:00Z").encoded)
        var generator = SeededGenerator(seed: 2026)
        var accepted = 0
        for _ in 0..<20_000 {
            var bytes = valid
            for _ in 0..<Int(generator.next() % 4) + 1 {
                let position = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 3 {
                case 0: bytes[position] = UInt8(truncatingIfNeeded: generator.next())
                case 1: bytes.remove(at: position)
                default: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
                }
                if bytes.isEmpty { bytes = [0x7B] }
            }
            guard let value = try? JSONValue(parsing: bytes) else { continue }
            accepted += 1
            XCTAssertEqual(try JSONValue(parsing: Array(value.encoded().utf8)), value)
        }
        XCTAssertGreaterThan(accepted, 0, "no damaged document was valid JSON: the round trip went untested")
    }
}
