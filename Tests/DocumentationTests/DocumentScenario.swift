import Foundation
import TestSupport
import XCTest

/// The documents whose shell and SQL blocks the tests run.
enum Documents {
    static let runbook = "docs/pitr-runbook.md"
    static let operations = "docs/operations.md"
    static let all = [runbook, operations]

    /// The example values of the runbook's "Your values" table that a test run must replace,
    /// each with what it becomes in the sandbox. Everything else runs as written: the sandbox's
    /// S3 server holds the bucket `my-backups` in region `eu-central-1`, so the archive URL is
    /// the documents' own.
    static let accessKeyID = "AKIAIOSFODNN7EXAMPLE"
    static let secretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let endpointLine = "# endpoint = https://minio.internal:9000"
    static let pathStyleLine = "# path_style = true"
    static let baseBackup = "base-20261123T020000Z"
    static let olderBaseBackup = "base-20261001T020000Z"
    static let targetTime = "2026-11-23 14:01:59+00"
    static let targetLSN = "0/5A000148"
    static let examples = [accessKeyID, secretAccessKey, endpointLine, pathStyleLine, baseBackup, olderBaseBackup,
                           targetTime, targetLSN]
}

/// One walk through part of a document, as an operator does it: the blocks it names run in the
/// document's order; test code between them plays the operator's applications and checks what
/// the blocks promise.
struct Pass {
    enum Step {
        /// Runs the marked block with the example values replaced; it must succeed.
        case run(String)
        /// Runs the marked block; it must fail (what a documented failure looks like).
        case runFailing(String)
        /// Test code: writes the operator's data would see, assertions of the promised outcome.
        case check(String, (ScenarioContext) throws -> Void)
    }

    let title: String
    let steps: [Step]

    init(_ title: String, _ steps: [Step]) {
        self.title = title
        self.steps = steps
    }

    var blockNames: [String] {
        steps.compactMap { step in
            switch step {
            case .run(let name), .runFailing(let name): return name
            case .check: return nil
            }
        }
    }
}

/// The state of one scenario run: the sandbox and this run's values for the documents' examples.
final class ScenarioContext {
    let sandbox: SandboxHost
    /// Example value in the documents → the value in this run.
    var values: [String: String]
    /// What the last block printed (stdout, then stderr).
    var lastOutput = ""

    init(sandbox: SandboxHost) {
        self.sandbox = sandbox
        values = [
            Documents.accessKeyID: sandbox.s3.accessKeyID,
            Documents.secretAccessKey: sandbox.s3.secretAccessKey,
            Documents.endpointLine: "endpoint = \(sandbox.s3.endpoint)",
            Documents.pathStyleLine: "path_style = true",
        ]
    }

    /// The block's text with every example value that has a value in this run replaced.
    func substituted(_ text: String) -> String {
        values.keys.sorted { $0.count > $1.count }.reduce(text) { text, example in
            text.replacingOccurrences(of: example, with: values[example] ?? example)
        }
    }

    @discardableResult
    func sql(_ query: String, port: Int = 5432) throws -> String {
        try sandbox.sql(query, port: port)
    }

    /// Rows of the `events` table per phase, e.g. `["A": 3000]`.
    func rowsByPhase(port: Int) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for line in try sql("SELECT phase, count(*) FROM events GROUP BY phase", port: port).split(separator: "\n") {
            let fields = line.split(separator: "|")
            if fields.count == 2, let count = Int(fields[1]) { counts[String(fields[0])] = count }
        }
        return counts
    }

    /// The server's timeline, from its control file after a checkpoint (a promotion only
    /// requests one).
    func currentTimeline(port: Int = 5432) throws -> String {
        try sql("CHECKPOINT", port: port)
        return try sql("SELECT timeline_id FROM pg_control_checkpoint()", port: port)
    }

    /// Completes the current WAL segment and waits until the archiver has archived it.
    func switchAndWaitUntilArchived(port: Int = 5432) throws {
        try sql("SELECT pg_logical_emit_message(false, 'documentation-tests', 'switch')", port: port)
        let segment = try sql("SELECT pg_walfile_name(pg_switch_wal())", port: port)
        let archived = PostgresCluster.poll(timeoutSeconds: 120) {
            (try? self.sql("SELECT last_archived_wal >= '\(segment)' FROM pg_stat_archiver", port: port)) == "t"
        }
        guard archived else {
            throw PostgresClusterError("\(segment) not archived: "
                + ((try? sql("SELECT * FROM pg_stat_archiver", port: port)) ?? "?"))
        }
    }

    /// wal-fetch's exit status for `file` (0 found, 1 not in the archive), as user postgres.
    func fetchStatus(_ file: String) throws -> Int32 {
        try sandbox.shell("runuser -u postgres -- wal-fetch --config /etc/wal-archive/wal-archive.conf \(file) "
            + "/var/lib/postgresql/fetched-\(file); status=$?; rm -f /var/lib/postgresql/fetched-\(file); exit $status").status
    }

    /// The names of the base backups in /var/backups/postgresql, oldest first.
    func baseBackups() throws -> [String] {
        try sandbox.succeed("ls /var/backups/postgresql").split(separator: "\n").map(String.init).sorted()
    }

    /// Keys under the archive's prefix, from the sandbox's S3 server.
    func archivedKeys() throws -> [String] {
        try sandbox.succeed("aws s3 ls --recursive s3://my-backups/pg/main/ | awk '{print $4}'")
            .split(separator: "\n").map { String($0.dropFirst("pg/main/".count)) }
    }
}

/// Runs passes of documented blocks, checking that each pass follows its document's order.
enum ScenarioRunner {
    static func load() throws -> [String: DocumentedBlock] {
        try DocumentedBlock.load(Documents.all)
    }

    /// Throws if a pass names an unknown block or runs a document's blocks out of their order.
    static func validate(_ passes: [Pass], blocks: [String: DocumentedBlock]) throws {
        for pass in passes {
            var lastPosition: [String: (Int, String)] = [:]
            for name in pass.blockNames {
                guard let block = blocks[name] else {
                    throw DocumentationError("pass \"\(pass.title)\": no block \(name) in \(Documents.all)")
                }
                if let (position, previous) = lastPosition[block.document], position >= block.position {
                    throw DocumentationError("pass \"\(pass.title)\": \(name) comes before \(previous) in \(block.document)")
                }
                lastPosition[block.document] = (block.position, name)
            }
        }
    }

    static func run(_ passes: [Pass], in context: ScenarioContext, blocks: [String: DocumentedBlock],
                    file: StaticString = #filePath, line: UInt = #line) throws {
        try validate(passes, blocks: blocks)
        for pass in passes {
            for step in pass.steps {
                switch step {
                case .run(let name), .runFailing(let name):
                    guard let block = blocks[name] else { continue }
                    let expectFailure: Bool
                    if case .runFailing = step { expectFailure = true } else { expectFailure = false }
                    let result = try context.sandbox.shell(command(for: block, context: context))
                    context.lastOutput = result.standardOutput + result.standardError
                    guard result.succeeded != expectFailure else {
                        throw DocumentationError("""
                            pass "\(pass.title)": block \(name) (\(block.document):\(block.line)) \
                            \(expectFailure ? "succeeded but should fail" : "failed with status \(result.status)")
                            --- block as run ---
                            \(context.substituted(block.text))--- output ---
                            \(context.lastOutput)
                            """)
                    }
                case .check(let title, let body):
                    do {
                        try body(context)
                    } catch {
                        throw DocumentationError("pass \"\(pass.title)\", check \"\(title)\": \(error)")
                    }
                }
            }
        }
    }

    /// A shell block runs as it is; a SQL block through psql as user postgres on the server.
    private static func command(for block: DocumentedBlock, context: ScenarioContext) -> String {
        let text = context.substituted(block.text)
        if block.language == "sql" || block.language == "psql" {
            return "runuser -u postgres -- psql -X -v ON_ERROR_STOP=1 -p 5432 <<'__SQL__'\n\(text)__SQL__\n"
        }
        return text
    }
}
