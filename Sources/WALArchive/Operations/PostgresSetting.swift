import Glibc

/// A run-time setting as PostgreSQL itself resolves it for a data directory (its
/// postgresql.conf, includes and postgresql.auto.conf): `postgres -D DATADIR -C name`, run as the
/// data directory's owner (PostgreSQL refuses root, and only the owner can read the directory).
enum PostgresSetting {
    struct Failure: Error {
        var message: String
    }

    static func read(_ name: String, dataDirectory: String, postgres: String) -> Result<String, Failure> {
        var info = stat()
        guard stat(dataDirectory, &info) == 0 else {
            return .failure(Failure(message: "cannot read \(dataDirectory): \(String(cString: strerror(errno)))"))
        }
        var executable = postgres
        var arguments = ["-D", dataDirectory, "-C", name]
        if geteuid() == 0 && info.st_uid != 0 {
            guard let account = getpwuid(info.st_uid) else {
                return .failure(Failure(message: "the owner (uid \(info.st_uid)) of \(dataDirectory) has no user name to run postgres as"))
            }
            let candidates: [String] = ["/usr/sbin/runuser", "/sbin/runuser"]
            let runuser = candidates.first { access($0, X_OK) == 0 } ?? candidates[0]
            arguments = ["-u", String(cString: account.pointee.pw_name), "--", postgres] + arguments
            executable = runuser
        }
        let outcome: ChildProcess.Outcome
        do {
            outcome = try ChildProcess.run(executable, arguments, environment: ["PATH": "/usr/bin:/bin", "LANG": "C"])
        } catch {
            return .failure(Failure(message: "cannot run \(postgres): \(error.message); give the postgres executable with --postgres PATH"))
        }
        guard outcome.status == 0 else {
            let detail = outcome.standardError.split(separator: "\n").first.map(String.init) ?? "exit status \(outcome.status)"
            return .failure(Failure(message: "`postgres -D \(dataDirectory) -C \(name)` failed: \(detail); run check as the "
                                    + "data directory's owner or as root"))
        }
        var value = outcome.standardOutput
        while value.last == "\n" { value.removeLast() }
        return .success(value)
    }
}
