@testable import WALArchive

/// A config file's bytes (an operator's file, possibly edited on another system, truncated or
/// wrong). Properties:
/// - parsing never traps; a refusal names the file, and every message reports as one line;
/// - line endings do not matter: a file with CRLF line ends reads as the same file with LF;
/// - what parses has non-empty lower-case keys, each once, in line order;
/// - resolving it into a configuration (without the `*_file` keys, which read other files)
///   ends in a configuration or a message, and no message repeats the secret key or the
///   session token the file holds.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigFile(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    let text = String(decoding: bytes, as: UTF8.self)
    let parsed = Result { () throws(ConfigurationError) in try ConfigFile.parse(text, path: "fuzz.conf") }
    let withLF = String(decoding: replacingCRLF(bytes), as: UTF8.self)
    let parsedWithLF = Result { () throws(ConfigurationError) in try ConfigFile.parse(withLF, path: "fuzz.conf") }
    require(parsed == parsedWithLF, "CRLF line ends change the reading: \(parsed) vs \(parsedWithLF)")

    let file: ConfigFile
    switch parsed {
    case .failure(let error):
        require(error.message.contains("fuzz.conf"), "message \(error.message) does not name the file")
        requireOneReportLine(error.message)
        return 0
    case .success(let value):
        file = value
    }
    var seen: Set<String> = []
    var lastLine = 0
    for entry in file.entries {
        require(!entry.key.isEmpty && entry.key == entry.key.lowercased(), "key \(entry.key)")
        require(seen.insert(entry.key).inserted, "key \(entry.key) twice")
        require(entry.line > lastLine, "entries out of line order")
        lastLine = entry.line
    }
    guard !file.entries.contains(where: { $0.key.hasSuffix("_file") }) else { return 0 }

    let memory = MemoryFile(bytes)
    var options = CommandLineOptions()
    options.configPath = "/proc/self/fd/\(memory.descriptor)"
    do {
        _ = try Configuration.load(options: options, environment: [:], defaultConfigPath: "/nonexistent")
    } catch {
        requireOneReportLine(error.message)
        let others = file.entries.filter { !["secret_access_key", "session_token"].contains($0.key) }
        for secretKey in ["secret_access_key", "session_token"] {
            guard let secret = file.entry(secretKey)?.value, secret.utf8.count >= 8,
                  !others.contains(where: { $0.value.contains(secret) || $0.key.contains(secret) }) else { continue }
            require(!error.message.contains(secret), "\(secretKey) appears in \(error.message)")
        }
    }
    return 0
}

private func replacingCRLF(_ bytes: [UInt8]) -> [UInt8] {
    var output: [UInt8] = []
    output.reserveCapacity(bytes.count)
    for (index, byte) in bytes.enumerated() where !(byte == 0x0D && index + 1 < bytes.count && bytes[index + 1] == 0x0A) {
        output.append(byte)
    }
    return output
}
