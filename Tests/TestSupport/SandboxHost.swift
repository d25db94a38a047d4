import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// This machine as an operator's Debian server, private to one test: commands run as root with
/// the real paths of the runbook (`/etc/postgresql`, `/var/lib/postgresql`, `/etc/wal-archive`,
/// `/usr/bin/wal-push`, port 5432) without touching the machine or colliding with anyone.
///
/// How: `unshare` gives the sandbox its own mount, network and process namespaces. `/etc` and
/// `/var` are overlays whose writes land in the sandbox's directory; PostgreSQL's directories
/// (`/etc/postgresql`, `/var/lib/postgresql`, `/var/log/postgresql`, `/run/postgresql`) are
/// empty private ones, so the machine's own clusters are invisible; the network has only its
/// own loopback, where a signature-checking local S3 server (`scripts/local-s3-server`) serves
/// the bucket `my-backups`. With a package tree (`scripts/package --stage`), its `usr/` lies over
/// `/usr` and its config file and postinst are installed as dpkg would; without one the sandbox
/// uses what is installed on the machine (the CI check of the installed package).
///
/// The sandbox's first process reads its stdin until end of file; the test holds the other end.
/// When it closes (`destroy()`, or the test process dying), that process exits and the kernel
/// kills everything else in the process namespace: PostgreSQL servers, the S3 server, any wait.
public final class SandboxHost: @unchecked Sendable {
    public struct S3Endpoint: Sendable {
        public let endpoint: String
        public let region: String
        public let accessKeyID: String
        public let secretAccessKey: String
    }

    /// The bucket and region of the sandbox's S3 server: the runbook's examples, so the archive
    /// URL and the region in the documented config file stay literal.
    public static let bucket = "my-backups"
    public static let region = "eu-central-1"

    /// Host directory holding the overlays' upper layers, the private directories and the logs.
    public let root: URL
    public let s3: S3Endpoint
    private let holder: Process
    private let holderInput: Pipe
    private let namespacePID: pid_t
    private var destroyed = false

    /// Starts the sandbox. `packageTree`: a directory laid out by `scripts/package --stage`, or
    /// nil to use the installed package.
    public init(packageTree: URL?) throws {
        guard geteuid() == 0 else {
            throw PostgresClusterError("the sandbox needs root (mount and network namespaces, runuser)")
        }
        root = try PostgresCluster.makeServiceOwnedDirectory(prefix: "wal-archive-sandbox")
        try FileManager.default.setAttributes([.ownerAccountID: 0, .groupOwnerAccountID: 0], ofItemAtPath: root.path)
        let initScript = root.appendingPathComponent("init.sh")
        try Self.initScript.write(to: initScript, atomically: true, encoding: .utf8)

        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        holder.arguments = ["--mount", "--net", "--pid", "--fork", "--mount-proc", "--kill-child", "--",
                            "/bin/bash", initScript.path]
        var environment = ProcessInfo.processInfo.environment.merging(HermeticEnvironment.variables) { _, new in new }
        environment["SANDBOX_ROOT"] = root.path
        environment["SANDBOX_PACKAGE_TREE"] = packageTree?.path ?? ""
        environment["SANDBOX_REPOSITORY"] = TestPaths.packageRoot.path
        environment["SANDBOX_BUCKET"] = Self.bucket
        environment["SANDBOX_REGION"] = Self.region
        holder.environment = environment
        let input = Pipe()
        holder.standardInput = input
        holder.standardOutput = FileHandle.nullDevice
        holder.standardError = try FileHandle(forWritingTo: Self.emptyFile(root.appendingPathComponent("init.log")))
        try holder.run()
        self.holder = holder
        holderInput = input

        let ready = root.appendingPathComponent("s3.json")
        var child: pid_t?
        let started = PostgresCluster.poll(timeoutSeconds: 90) {
            if child == nil { child = Self.firstChild(of: holder.processIdentifier) }
            let size = (try? FileManager.default.attributesOfItem(atPath: ready.path)[.size] as? Int) ?? 0
            return (child != nil && size > 0) || !holder.isRunning
        }
        let log = (try? String(contentsOf: root.appendingPathComponent("init.log"), encoding: .utf8)) ?? ""
        guard started, holder.isRunning, let namespacePID = child else {
            input.fileHandleForWriting.closeFile()
            holder.waitUntilExit()
            throw PostgresClusterError("the sandbox did not start:\n\(log)")
        }
        self.namespacePID = namespacePID
        struct Ready: Decodable {
            var endpoint: String
            var region: String
            var access_key_id: String
            var secret_access_key: String
        }
        let answer = try JSONDecoder().decode(Ready.self, from: Data(contentsOf: ready))
        s3 = S3Endpoint(endpoint: answer.endpoint, region: answer.region, accessKeyID: answer.access_key_id,
                        secretAccessKey: answer.secret_access_key)
        try writeAWSCommandLineConfiguration()
    }

    deinit { destroy() }

    /// Ends the sandbox: every process in it is killed with its first process, then its files go.
    public func destroy() {
        guard !destroyed else { return }
        destroyed = true
        holderInput.fileHandleForWriting.closeFile()
        if !PostgresCluster.poll(timeoutSeconds: 20, { !holder.isRunning }) {
            kill(holder.processIdentifier, SIGKILL)
        }
        holder.waitUntilExit()
        try? FileManager.default.removeItem(at: root)
    }

    /// Runs `script` with `bash -e` as root inside the sandbox, in the environment of an
    /// operator's root shell.
    ///
    /// The hermetic variables of the other tests are deliberately not set here except
    /// `AWS_EC2_METADATA_DISABLED`: `WAL_ARCHIVE_CONFIG=none` would change what the documented
    /// commands do, and the sandbox's private `/etc` already keeps any config file of this
    /// machine out. The AWS CLI (for the documented `aws s3` commands) finds the sandbox's S3
    /// server through its own config files, named by variables that wal-push and wal-fetch do not
    /// read, so nothing reaches them except through `/etc/wal-archive`.
    @discardableResult
    public func shell(_ script: String, timeoutSeconds: Double = 600) throws -> CommandResult {
        let awsDirectory = root.appendingPathComponent("aws")
        let standardPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        let testPath = ProcessInfo.processInfo.environment["PATH"] ?? ""
        var environment = [
            "PATH": standardPath + (testPath.isEmpty ? "" : ":" + testPath),
            "HOME": "/root",
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "AWS_CONFIG_FILE": awsDirectory.appendingPathComponent("config").path,
            "AWS_SHARED_CREDENTIALS_FILE": awsDirectory.appendingPathComponent("credentials").path,
            "WAL_ARCHIVE_CONFIG": "",
        ]
        for name in ["PYENV_ROOT", "PYENV_VERSION"] {
            if let value = ProcessInfo.processInfo.environment[name] { environment[name] = value }
        }
        return try PostgresCluster.run("/usr/bin/nsenter", [
            "--target", "\(namespacePID)", "--mount", "--net", "--pid", "--wd=/", "--",
            "/bin/bash", "-e", "-c", script,
        ], environment: environment, timeoutSeconds: timeoutSeconds)
    }

    /// Like `shell`, but throws with the output when the script fails.
    @discardableResult
    public func succeed(_ script: String, timeoutSeconds: Double = 600) throws -> String {
        let result = try shell(script, timeoutSeconds: timeoutSeconds)
        guard result.succeeded else {
            throw PostgresClusterError("sandbox command failed (\(result.status)):\n\(script)\n--- stdout ---\n"
                + "\(result.standardOutput)--- stderr ---\n\(result.standardError)")
        }
        return result.standardOutput
    }

    /// One SQL query through psql as user postgres on `port`, output unaligned and trimmed.
    @discardableResult
    public func sql(_ query: String, port: Int = 5432, database: String = "postgres") throws -> String {
        try succeed("runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -p \(port) -d \(database) <<'__SQL__'\n"
            + query + "\n__SQL__\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The AWS CLI's view of the sandbox's S3 server: what an operator's `aws configure` would hold.
    private func writeAWSCommandLineConfiguration() throws {
        let directory = root.appendingPathComponent("aws")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "[default]\nregion = \(s3.region)\nendpoint_url = \(s3.endpoint)\n"
            .write(to: directory.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        try "[default]\naws_access_key_id = \(s3.accessKeyID)\naws_secret_access_key = \(s3.secretAccessKey)\n"
            .write(to: directory.appendingPathComponent("credentials"), atomically: true, encoding: .utf8)
    }

    private static func firstChild(of pid: pid_t) -> pid_t? {
        let children = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)
        return children?.split(separator: " ").first.flatMap { pid_t($0) }
    }

    private static func emptyFile(_ url: URL) -> URL {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        return url
    }

    /// The sandbox's first process (PID 1 of its namespace): builds the private view of the
    /// machine, installs the package tree, starts the S3 server, then waits for end of input.
    private static let initScript = #"""
        set -euo pipefail
        root=$SANDBOX_ROOT
        for dir in etc var; do
            mkdir -p "$root/$dir.upper" "$root/$dir.work"
            mount -t overlay overlay -o "lowerdir=/$dir,upperdir=$root/$dir.upper,workdir=$root/$dir.work" "/$dir"
        done
        private() {  # private DIR OWNER:GROUP MODE: an empty directory of our own over DIR
            local name; name=$(echo "$1" | tr / _)
            install -d -o "${2%:*}" -g "${2#*:}" -m "$3" "$root/private$name"
            mkdir -p "$1"
            mount --bind "$root/private$name" "$1"
        }
        private /etc/postgresql root:root 755
        private /var/lib/postgresql postgres:postgres 755
        private /var/log/postgresql root:postgres 1775
        private /run/postgresql postgres:postgres 2775
        if [ -n "$SANDBOX_PACKAGE_TREE" ]; then
            mount -t overlay overlay -o "lowerdir=$SANDBOX_PACKAGE_TREE/usr:/usr" /usr
            # What dpkg does with the package's configuration: unpack it as shipped, run postinst.
            private /etc/wal-archive root:root 755
            install -m 640 -o root -g root "$SANDBOX_PACKAGE_TREE/etc/wal-archive/wal-archive.conf" /etc/wal-archive/
            "$SANDBOX_PACKAGE_TREE/DEBIAN/postinst" configure
        fi
        ip link set lo up
        "$SANDBOX_REPOSITORY/scripts/local-s3-server" --region "$SANDBOX_REGION" "$SANDBOX_BUCKET" >"$root/s3.json.partial" 2>"$root/s3.log" &
        until [ -s "$root/s3.json.partial" ]; do
            kill -0 $! 2>/dev/null || { cat "$root/s3.log" >&2; exit 1; }
            sleep 0.1
        done
        mv "$root/s3.json.partial" "$root/s3.json"
        while read -r _; do :; done
        """#
}
