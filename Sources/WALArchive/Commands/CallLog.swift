import Glibc

/// The one logfmt line a `wal-push` or `wal-fetch` call writes to stderr with `log = info`
/// (PostgreSQL's log collects it), e.g.
///
///     tool=wal-push file=000000010000000000000003 key=pg/2026-11-28/000000010000000000000003.zst bytes=16777216 stored_bytes=812345 duration_ms=23 requests=2 attempts=2 result=stored
///
/// Failures keep their own human line too; this line adds `exit` and `error` to it.
struct CallLog {
    let tool: String
    let file: String
    private let clock = MonotonicClock()

    init(tool: String, file: String) {
        self.tool = tool
        self.file = file
    }

    /// `path`: the file whose size is `bytes` (%p), if it exists.
    func write(result: String, key: String? = nil, path: String?, store: CountingObjectStore?, stored: Int64?,
               exit: Int32? = nil, error: String? = nil) {
        var fields: [(String, String)] = [("tool", tool), ("file", file)]
        if let key { fields.append(("key", key)) }
        var info = stat()
        if let path, stat(path, &info) == 0 { fields.append(("bytes", String(info.st_size))) }
        if let stored { fields.append(("stored_bytes", String(stored))) }
        fields.append(("duration_ms", String(clock.elapsedMilliseconds)))
        fields.append(("requests", String(store?.requests ?? 0)))
        fields.append(("attempts", String(store?.attempts ?? 0)))
        fields.append(("result", result))
        if let exit { fields.append(("exit", String(exit))) }
        if let error { fields.append(("error", error)) }
        let line = fields.map { $0.0 + "=" + Self.value($0.1) }.joined(separator: " ") + "\n"
        try? FileOperations.writeAll(STDERR_FILENO, Array(line.utf8), path: "stderr")
    }

    /// A bare value when it needs no quoting; else in double quotes with `"` and `\` escaped
    /// and line breaks as `\n`, so one call stays one line.
    static func value(_ text: String) -> String {
        let plain = !text.isEmpty && text.unicodeScalars.allSatisfy {
            $0.value > 0x20 && $0.value < 0x7F && $0 != "\"" && $0 != "=" && $0 != "\\"
        }
        if plain { return text }
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            // Every other control and line separator (DEL, NEL, U+2028 too): one call, one line.
            default: quoted.unicodeScalars.append(CommandHelp.breaksALine(scalar) ? " " : scalar)
            }
        }
        return quoted + "\""
    }
}
