import Glibc
import XCTest
@testable import WALArchive

/// The environment every tool reads its settings from: parsed as the C library does.
final class ProcessEnvironmentTests: XCTestCase {
    func parse(_ entries: [String]) -> [String: String] {
        let copies = entries.map { strdup($0)! }
        defer { copies.forEach { free($0) } }
        return ProcessEnvironment.parse(copies.map { UnsafePointer($0) })
    }

    func testEntriesSplitAtTheFirstEqualsSignAndTheFirstOfANameWins() {
        XCTAssertEqual(parse(["A=b=c", "EMPTY=", "NOEQUALS", "A=second", "=unnamed", "ÄÖ=ü ü", "B=x\u{0301}=y"]),
                       ["A": "b=c", "EMPTY": "", "": "unnamed", "ÄÖ": "ü ü", "B": "x\u{0301}=y"])
    }

    func testAValueStartingWithACombiningMarkIsSplitAtItsEqualsSign() {
        // "=" followed by U+0301 is one Character, but getenv splits at the byte.
        XCTAssertEqual(parse(["ACCENT=\u{0301}e"]), ["ACCENT": "\u{0301}e"])
    }

    func testInvalidUTF8IsRepairedNotDropped() {
        var bytes: [CChar] = Array("BAD=".utf8CString.dropLast()) + [CChar(bitPattern: 0xC3), 0x41, 0]
        let parsed = bytes.withUnsafeMutableBufferPointer { ProcessEnvironment.parse([UnsafePointer($0.baseAddress!)]) }
        XCTAssertEqual(parsed, ["BAD": "\u{FFFD}A"])
    }

    func testTheCurrentEnvironmentAgreesWithGetenv() {
        setenv("WAL_ARCHIVE_ENVIRONMENT_TEST", "one=two", 1)
        defer { unsetenv("WAL_ARCHIVE_ENVIRONMENT_TEST") }
        let current = ProcessEnvironment.current()
        XCTAssertEqual(current["WAL_ARCHIVE_ENVIRONMENT_TEST"], "one=two")
        XCTAssertEqual(current["PATH"], getenv("PATH").map { String(cString: $0) })
    }
}
