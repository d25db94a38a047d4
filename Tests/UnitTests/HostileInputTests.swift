import Foundation
import TestSupport
import XCTest
@testable import WALArchive

/// Inputs the fuzz targets (fuzz/, scripts/fuzz) found to break a property, each kept as the
/// test that failed before its fix. The minimised inputs are also in the targets' seed corpora.
final class HostileInputTests: XCTestCase {
    /// Every scalar a log reader could take for a line end, or a terminal for a command.
    private func controlScalars(_ text: String) -> [UInt32] {
        text.unicodeScalars.map(\.value).filter { $0 < 0x20 || (0x7F...0x9F).contains($0) || $0 == 0x2028 || $0 == 0x2029 }
    }

    func testAReportedMessageStaysOnePrintableLineWhateverTheServerPutInIt() {
        // The fuzzer's input: an error body whose code is a control character.
        let body = S3ErrorBody(xml: Array("<Error><Code>\u{1}</></>".utf8))
        var messages = [StorageError.rejected(status: 400, code: body.code, message: body.message, requestID: "").message]
        for hostile in ["two\r\nlines", "nul\0byte", "colour\u{1B}[31m", "line\u{2028}separator", "next\u{85}line",
                        "tab\tand\u{0B}vertical\u{0C}feed"] {
            messages.append(StorageError.rejected(status: 400, code: "Code", message: hostile, requestID: "id").message)
        }
        for message in messages {
            let line = CommandHelp.reportLine(program: "wal-fetch", message)
            XCTAssertTrue(line.hasPrefix("wal-fetch: "), line)
            XCTAssertEqual(line.last, "\n")
            XCTAssertEqual(controlScalars(String(line.dropLast())), [], "\(Array(line.utf8))")
        }
    }

    func testAConfigFileWithCRLFLineEndsReadsAsTheSameFileWithLF() throws {
        // The fuzzer's minimised input was a single CRLF, refused as "expected `key = value`".
        XCTAssertEqual(try ConfigFile.parse("\r\n", path: "f").entries, [])
        let text = "# written on Windows\r\nurl = s3://bucket/pg/main\r\n\r\nregion = eu-west-1\r\n"
            + "access_key_id = AKIDEXAMPLE\r\nsecret_access_key = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'\r\n"
        let withCRLF = try ConfigFile.parse(text, path: "f")
        XCTAssertEqual(withCRLF, try ConfigFile.parse(text.replacingOccurrences(of: "\r\n", with: "\n"), path: "f"))
        XCTAssertEqual(withCRLF.entry("url")?.value, "s3://bucket/pg/main")
        XCTAssertEqual(withCRLF.entry("secret_access_key")?.value, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")

        let path = try makeTemporaryDirectory(self) + "/wal-archive.conf"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = try Configuration.load(options: CommandLineOptions.parse(["--config", path]), environment: [:])
        XCTAssertEqual(configuration.prefix, "pg/main")
        guard case .s3(let settings) = configuration.destination else { return XCTFail("not S3: \(configuration.destination)") }
        XCTAssertEqual(settings.region, "eu-west-1")
        XCTAssertEqual(settings.credentials.staticKeys?.secretAccessKey, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    }

    func testAnXMLAnswerNestedThousandsDeepCostsMemoryInProportionToItsSize() throws {
        // Each leaf's path repeats every ancestor's name: 3000 levels and 3000 leaves (33 KB)
        // kept 18 MB of paths, and a 1 MiB body (the most an error or listing is read) tens of GB.
        let depth = 3000
        let body = Array((String(repeating: "<a>", count: depth) + String(repeating: "<b/>", count: depth)
            + String(repeating: "</a>", count: depth)).utf8)
        let leaves = try XMLLeaves.parse(body)
        let kept = leaves.reduce(0) { $0 + $1.path.utf8.count + $1.text.utf8.count }
        XCTAssertLessThanOrEqual(kept, 4 * body.count)
        XCTAssertThrowsError(try ListObjectsPage(xml: body))
        XCTAssertEqual(S3ErrorBody(xml: body).code, "")
    }

    func testALogValueStaysOnePrintableLineWhateverTheArchiveIdentityHolds() {
        // The fuzzer's input: an identity whose unknown field's name holds DEL (0x7F).
        let unknown = ArchiveIdentityFormatError.unknownField("crem\u{7F}m")
        var messages = [ArchiveIdentityError.unusable(location: "s3://bucket/prefix/wal-archive.json", unknown).message]
        messages += ["next\u{85}line", "line\u{2028}separator", "nul\0byte", "two\r\nlines", "colour\u{1B}[31m"]
        for message in messages {
            let value = CallLog.value(message)
            XCTAssertEqual(controlScalars(value), [], "\(Array(value.utf8))")
        }
    }
}
