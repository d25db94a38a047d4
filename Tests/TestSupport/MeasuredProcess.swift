import Foundation

/// Runs a program and reports, besides its exit, its peak resident memory.
///
/// Measured by a small Python parent (python3 is needed for the local S3 anyway), not by
/// this process: a child of a large process inherits that process's peak as its own when it
/// execs (Linux records the old memory's high-water mark), so the tests' own gigabytes would
/// show up in the number.
public enum MeasuredProcess {
    public struct Result {
        /// The exit status, or the signal number when `signaled`.
        public var status: Int32
        public var signaled: Bool
        public var maximumResidentKiB: Int
        public var stderr: String
    }

    static let measurer = """
        import resource, subprocess, sys
        directory, errors = sys.argv[1], sys.argv[2]
        with open(errors, "wb") as stderr:
            code = subprocess.run(sys.argv[3:], cwd=directory, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=stderr).returncode
        print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        """

    /// Runs `executable` with `arguments` in `directory` with exactly `environment`.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String],
                           directory: String) throws -> Result {
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("measured-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: errors) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", measurer, directory, errors, executable] + arguments
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
        guard process.terminationStatus == 0, fields.count == 2 else {
            throw POSIXError(.EIO, userInfo: ["output": text])
        }
        return Result(status: Int32(abs(fields[0])), signaled: fields[0] < 0, maximumResidentKiB: fields[1],
                      stderr: (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")
    }
}
