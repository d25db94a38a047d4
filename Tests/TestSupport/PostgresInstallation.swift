import Foundation

/// One PostgreSQL installation the tests can run clusters of: a major version and the folder
/// of its programs (initdb, pg_ctl, postgres, psql, pg_basebackup).
///
/// The end-to-end tier runs on the major `WAL_ARCHIVE_TEST_PG` names (default 15;
/// `scripts/run-tests --pg N`), or on the programs in `WAL_ARCHIVE_TEST_PG_BIN`. A major is
/// found as Debian's package (`/usr/lib/postgresql/<major>/bin`) or as the PyPI wheel that
/// `scripts/install-test-postgresql` puts under `$WAL_ARCHIVE_TEST_PG_ROOT` (default
/// /opt/wal-archive-test): `postgresql-<major>/<package>/pginstall/bin`.
public struct PostgresInstallation: Sendable, Equatable, CustomStringConvertible {
    /// The majors CI runs the end-to-end tier on (docs/postgresql-versions.md).
    public static let testedMajorVersions = [15, 17, 18]

    public let majorVersion: Int
    public let binDirectory: String
    /// `postgres --version`, e.g. `postgres (PostgreSQL) 17.10`.
    public let versionText: String

    public var description: String { "\(versionText) in \(binDirectory)" }

    public func binary(_ name: String) -> String { "\(binDirectory)/\(name)" }

    /// The installation the end-to-end tests use; the same for the whole test process.
    public static func selected() throws -> PostgresInstallation {
        try selectedInstallation.get()
    }

    /// The installation of `majorVersion`, or an error telling how to install it.
    public static func find(majorVersion: Int) throws -> PostgresInstallation {
        var looked: [String] = []
        for directory in candidateDirectories(majorVersion: majorVersion) {
            looked.append(directory)
            if let installation = try? PostgresInstallation(binDirectory: directory), installation.majorVersion == majorVersion {
                return installation
            }
        }
        throw PostgresClusterError("PostgreSQL \(majorVersion) not found (looked in \(looked.joined(separator: ", "))): "
            + (majorVersion == 15 ? "apt-get install postgresql-15" : "run scripts/install-test-postgresql \(majorVersion)"))
    }

    /// Reads the major version from the programs in `binDirectory`.
    public init(binDirectory: String) throws {
        let postgres = binDirectory + "/postgres"
        guard FileManager.default.isExecutableFile(atPath: postgres) else {
            throw PostgresClusterError("\(postgres) is not an executable")
        }
        let result = try PostgresCluster.run(postgres, ["--version"], timeoutSeconds: 30)
        let text = result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        // "postgres (PostgreSQL) 17.10" or, for a beta, "postgres (PostgreSQL) 18beta1".
        guard result.succeeded, let version = text.split(separator: " ").last,
              let major = Int(version.prefix { $0.isNumber }) else {
            throw PostgresClusterError("\(postgres) --version answered \(text.debugDescription) \(result.standardError)")
        }
        self.binDirectory = binDirectory
        majorVersion = major
        versionText = text
    }

    private static let selectedInstallation: Result<PostgresInstallation, Error> = Result {
        let environment = ProcessInfo.processInfo.environment
        if let directory = environment["WAL_ARCHIVE_TEST_PG_BIN"], !directory.isEmpty {
            return try PostgresInstallation(binDirectory: directory)
        }
        let requested = environment["WAL_ARCHIVE_TEST_PG"] ?? ""
        guard let major = requested.isEmpty ? 15 : Int(requested) else {
            throw PostgresClusterError("WAL_ARCHIVE_TEST_PG=\(requested): give a major version such as 15, 17 or 18")
        }
        return try find(majorVersion: major)
    }

    private static func candidateDirectories(majorVersion: Int) -> [String] {
        let root = ProcessInfo.processInfo.environment["WAL_ARCHIVE_TEST_PG_ROOT"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "/opt/wal-archive-test"
        let wheelFolder = "\(root)/postgresql-\(majorVersion)"
        let packages = (try? FileManager.default.contentsOfDirectory(atPath: wheelFolder)) ?? []
        return ["/usr/lib/postgresql/\(majorVersion)/bin"]
            + packages.sorted().map { "\(wheelFolder)/\($0)/pginstall/bin" }
    }
}
