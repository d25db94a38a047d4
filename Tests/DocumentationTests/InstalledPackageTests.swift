import Foundation
import TestSupport
import XCTest

/// The package as apt installed it on this machine (`.ci/run` installs the .deb that
/// `scripts/package` built, then runs this with WAL_ARCHIVE_TEST_INSTALLED_PACKAGE=1): the
/// runbook's plain-layout scenario, a failed and resumed drill and a restore to an LSN, with
/// /usr/bin/wal-push, wal-fetch and wal-archive, the installed snippets and the config file as
/// its postinst left it.
final class InstalledPackageTests: XCTestCase {
    private var sandbox: SandboxHost?

    override func tearDown() {
        sandbox?.destroy()
        sandbox = nil
        super.tearDown()
    }

    func testTheInstalledPackageRestoresByTheRunbook() throws {
        guard ProcessInfo.processInfo.environment["WAL_ARCHIVE_TEST_INSTALLED_PACKAGE"] == "1" else {
            throw XCTSkip("runs after the package is installed: WAL_ARCHIVE_TEST_INSTALLED_PACKAGE=1 (.ci/run)")
        }
        for file in ["/usr/bin/wal-push", "/usr/bin/wal-fetch", "/usr/bin/wal-archive",
                     "/usr/share/wal-archive/recovery-pitr.conf"] {
            let owner = try PostgresCluster.run("/usr/bin/dpkg", ["-S", file])
            XCTAssertTrue(owner.standardOutput.hasPrefix("wal-archive: "), "\(file): \(owner.standardOutput)\(owner.standardError)")
        }
        let configuration = try FileManager.default.attributesOfItem(atPath: "/etc/wal-archive/wal-archive.conf")
        XCTAssertEqual(configuration[.ownerAccountName] as? String, "root")
        XCTAssertEqual(configuration[.groupOwnerAccountName] as? String, "postgres")
        XCTAssertEqual((configuration[.posixPermissions] as? NSNumber)?.intValue, 0o640)

        let sandbox = try SandboxHost(packageTree: nil)
        self.sandbox = sandbox
        try ScenarioRunner.run(RunbookTests.plainLayout, in: ScenarioContext(sandbox: sandbox),
                               blocks: try ScenarioRunner.load())
    }
}
