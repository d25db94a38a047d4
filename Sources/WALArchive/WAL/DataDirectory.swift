/// A PostgreSQL data directory, read-only: its major version (`PG_VERSION`) and its control
/// file (`global/pg_control`), which tell which database system it is.
public struct DataDirectory: Sendable, Equatable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The major version in `PG_VERSION` ("15\n"), one that wal-archive supports.
    public func majorVersion() throws(DataDirectoryError) -> Int {
        let file = path + "/PG_VERSION"
        let bytes: [UInt8]
        do {
            bytes = try FileOperations.readWholeFile(file, limit: 64)
        } catch {
            throw .unreadable(path: file, detail: error.message)
        }
        var digits = bytes
        if digits.last == UInt8(ascii: "\n") { digits.removeLast() }
        guard !digits.isEmpty, digits.count <= 4, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let version = Int(String(decoding: digits, as: UTF8.self)) else {
            throw .invalidVersionFile(path: file)
        }
        guard WALPageMagic.magic(ofMajorVersion: version) != nil else {
            throw .unsupportedVersion(path: file, version: version)
        }
        return version
    }

    /// The whole control file, checked. A server that is running rewrites it in place; a read
    /// torn by such a write fails its CRC and is tried again a few times.
    public func controlFile() throws(DataDirectoryError) -> ControlFile {
        let file = path + "/" + ControlFile.path
        var lastError = ControlFileError.checksumMismatch
        for _ in 0..<3 {
            let bytes: [UInt8]
            do {
                bytes = try FileOperations.readWholeFile(file, limit: ControlFile.fileSize)
            } catch {
                throw .unreadable(path: file, detail: error.message)
            }
            do {
                return try ControlFile(bytes: bytes)
            } catch {
                lastError = error
                guard case .checksumMismatch = error else { break }
            }
        }
        throw .invalidControlFile(path: file, error: lastError)
    }

    /// Only the system identifier: the first 8 bytes, which PostgreSQL writes once at initdb
    /// and never moves, so no CRC is needed to trust them. Nil when there is no readable
    /// control file (the directory is not a data directory).
    public func systemIdentifier() -> UInt64? {
        guard let bytes = try? FileOperations.readWholeFile(path + "/" + ControlFile.path, limit: ControlFile.fileSize),
              bytes.count >= 16 else { return nil }
        return ControlFile.field(bytes, 0, as: UInt64.self)
    }
}

public enum DataDirectoryError: Error, Sendable, Equatable {
    case unreadable(path: String, detail: String)
    case invalidVersionFile(path: String)
    case unsupportedVersion(path: String, version: Int)
    case invalidControlFile(path: String, error: ControlFileError)

    public var message: String {
        switch self {
        case .unreadable(let path, let detail):
            return "cannot read \(path): \(detail) (is it a PostgreSQL data directory, readable by this user?)"
        case .invalidVersionFile(let path):
            return "\(path) does not hold a PostgreSQL major version"
        case .unsupportedVersion(let path, let version):
            let known = WALPageMagic.byMajorVersion.map { String($0.version) }.joined(separator: ", ")
            return "\(path) says PostgreSQL \(version); wal-archive supports \(known)"
        case .invalidControlFile(let path, let error):
            return "\(path) cannot be read: \(error.message)"
        }
    }
}
