import XCTest
@testable import WALArchive

/// How `wal-archive check` reads archive_command and restore_command: the shell's words.
final class ToolInvocationTests: XCTestCase {
    func testFindsTheToolItsArgumentsAndAssignmentsAsTheShellSplitsThem() {
        let quoted = ToolInvocation(command: #"/usr/local/bin/wal-push --config '/etc/wal archive/a.conf' "%p""#, tool: "wal-push")
        XCTAssertEqual(quoted, ToolInvocation(path: "/usr/local/bin/wal-push", arguments: ["--config", "/etc/wal archive/a.conf", "%p"],
                                              assignments: [:]))
        let assigned = ToolInvocation(command: #"WAL_ARCHIVE_URL=s3://b/p\ q exec wal-fetch %f %p && echo done"#, tool: "wal-fetch")
        XCTAssertEqual(assigned, ToolInvocation(path: "wal-fetch", arguments: ["%f", "%p"], assignments: ["WAL_ARCHIVE_URL": "s3://b/p q"]))
        let chained = ToolInvocation(command: "test ! -f /a/%f && wal-push --url file:///a %p", tool: "wal-push")
        XCTAssertEqual(chained?.arguments, ["--url", "file:///a", "%p"])
        XCTAssertEqual(chained?.assignments, [:])
        XCTAssertNil(ToolInvocation(command: "cp %p /mnt/archive/%f", tool: "wal-push"))
        XCTAssertNil(ToolInvocation(command: "/opt/not-wal-push-really %p", tool: "wal-push"))
        XCTAssertNil(ToolInvocation(command: "", tool: "wal-push"))
    }
}
