import Glibc

enum CommandHelp {
    static let options = """
        Options (each also an environment variable and a config-file key; see docs/configuration.md):
          --url URL                    s3://bucket/prefix or file:///directory   (WAL_ARCHIVE_URL)
          --config FILE                config file (WAL_ARCHIVE_CONFIG; default /etc/wal-archive/wal-archive.conf if present;
                                       `none`: no config file at all)
          --endpoint URL               S3 endpoint (WAL_ARCHIVE_ENDPOINT, AWS_ENDPOINT_URL)
          --region NAME                (WAL_ARCHIVE_REGION, AWS_REGION, AWS_DEFAULT_REGION; default us-east-1)
          --path-style[=BOOL]          path-style addressing (WAL_ARCHIVE_PATH_STYLE)
          --ca-bundle FILE             PEM bundle for a private endpoint (WAL_ARCHIVE_CA_BUNDLE)
          --access-key-id ID           (AWS_ACCESS_KEY_ID); --access-key-id-file FILE (AWS_ACCESS_KEY_ID_FILE)
          --secret-access-key-file F   (AWS_SECRET_ACCESS_KEY, AWS_SECRET_ACCESS_KEY_FILE)
          --session-token-file FILE    (AWS_SESSION_TOKEN, AWS_SESSION_TOKEN_FILE)
          --profile NAME               profile of ~/.aws/credentials and ~/.aws/config (AWS_PROFILE)
          --credentials-cache DIR      temporary credentials kept here, `none`: not kept
                                       (WAL_ARCHIVE_CREDENTIALS_CACHE; default ~/.cache/wal-archive/credentials)
          --sse AES256|aws:kms         server-side encryption (WAL_ARCHIVE_SSE); --sse-kms-key-id KEY (WAL_ARCHIVE_SSE_KMS_KEY_ID)
          --sse-c-key-file FILE        SSE-C with the 256-bit key in FILE, HTTPS only (WAL_ARCHIVE_SSE_C_KEY_FILE)
          --encryption-key-file FILE   client-side AES-256-GCM with the key in FILE, 64 hex digits
                                       (WAL_ARCHIVE_ENCRYPTION_KEY_FILE; docs/security.md)
          --decryption-key-files F:F   older keys that still read (WAL_ARCHIVE_DECRYPTION_KEY_FILES)
          --compression ALG[:LEVEL]    zstd, gzip or none (WAL_ARCHIVE_COMPRESSION; default zstd)
          --legacy-flat-layout[=BOOL]  also search <prefix>/<file> (WAL_ARCHIVE_LEGACY_FLAT_LAYOUT)
          --storage-class CLASS        (WAL_ARCHIVE_STORAGE_CLASS)
          --unsigned-payload[=BOOL]    (WAL_ARCHIVE_UNSIGNED_PAYLOAD)
          --connect-timeout SECONDS    (WAL_ARCHIVE_CONNECT_TIMEOUT; default 10)
          --low-speed-timeout SECONDS  (WAL_ARCHIVE_LOW_SPEED_TIMEOUT; default 30)
          --retry-budget SECONDS       (WAL_ARCHIVE_RETRY_BUDGET; default 60)
          --max-attempts N             (WAL_ARCHIVE_MAX_ATTEMPTS; default 100, a safety cap)
          --prefetch K                 wal-fetch: segments fetched ahead in recovery, 0 = off (WAL_ARCHIVE_PREFETCH; default 8)
          --push-ahead N               wal-push: parallel uploads of ready segments, 0 = off (WAL_ARCHIVE_PUSH_AHEAD; default 4)
          --log LEVEL                  error: a line only on failure (default); info: also one logfmt line per call
                                       (WAL_ARCHIVE_LOG)
          --help, --version

        """

    /// Prints the answer to `--help` or `--version` and returns the exit status; nil when the
    /// command is to run.
    static func answerInformationalRequest(_ request: CommandLineOptions.Request, program: String,
                                           usage: String) -> Int32? {
        switch request {
        case .help:
            print(usage, terminator: "")
            return 0
        case .version:
            print("\(program) (wal-archive) \(WALArchiveVersion.current)")
            return 0
        case .run:
            return nil
        }
    }

    /// The `wal-archive init` command line for the same configuration as this call: its config
    /// file and the archive's URL, which the environment may have given (the rest of the
    /// environment, e.g. credentials, applies to it as it does here), for the data directory
    /// given, or `DATADIR` when it is not known. Other options only matter to wal-push/fetch.
    static func initCommand(options: CommandLineOptions, configuration: Configuration, dataDirectory: String?) -> String {
        var words = ["wal-archive", "init"]
        if let configPath = options.configPath { words.append("--config=" + configPath) }
        words.append("--url=" + configuration.location)
        return (words + ["-D"]).map(shellWord).joined(separator: " ") + " " + (dataDirectory.map(shellWord) ?? "DATADIR")
    }

    /// `word` as a POSIX shell reads it back: as is when it holds only safe characters, else in
    /// single quotes.
    static func shellWord(_ word: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@%+,")
        if !word.isEmpty && word.allSatisfy({ safe.contains($0) }) { return word }
        return "'" + word.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    /// One line on stderr, whatever the message contains.
    static func report(program: String, _ message: String) {
        try? FileOperations.writeAll(STDERR_FILENO, Array(reportLine(program: program, message).utf8), path: "stderr")
    }

    /// The line `report` writes. Messages carry text from outside (an S3 error body, a file
    /// name, a config value), so every control character (C0, DEL, C1) and Unicode line or
    /// paragraph separator becomes a space: PostgreSQL's log gets exactly one line, and a
    /// terminal no escape sequence. Scalars, not Characters: "\r\n" is one Character.
    static func reportLine(program: String, _ message: String) -> String {
        var line = program + ": "
        for scalar in message.unicodeScalars {
            line.unicodeScalars.append(breaksALine(scalar) ? " " : scalar)
        }
        return line + "\n"
    }

    /// A control character (C0, DEL, C1) or a Unicode line or paragraph separator: what a log
    /// reader may take for the end of a line, or a terminal for a command.
    static func breaksALine(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return value < 0x20 || (0x7F...0x9F).contains(value) || value == 0x2028 || value == 0x2029
    }
}
