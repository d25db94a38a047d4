public enum CompressionError: Error, Sendable, Equatable {
    case unsupportedLevel(CompressionAlgorithm, Int32)
    /// The library could not set itself up (out of memory).
    case initializationFailed(CompressionAlgorithm)
    /// The compressed input is damaged.
    case corruptInput(CompressionAlgorithm, detail: String)
    /// The compressed input ended before its end marker.
    case truncatedInput(CompressionAlgorithm)
    /// More bytes followed the end of the compressed stream.
    case trailingData(CompressionAlgorithm)
    /// The library failed while compressing.
    case compressionFailed(CompressionAlgorithm, detail: String)

    public var message: String {
        switch self {
        case .unsupportedLevel(let algorithm, let level):
            return "\(algorithm.rawValue) level \(level) is not offered (use \(algorithm.levels.lowerBound)"
                + "...\(algorithm.levels.upperBound))"
        case .initializationFailed(let algorithm):
            return "\(algorithm.rawValue) could not be initialised (out of memory?)"
        case .corruptInput(let algorithm, let detail):
            return "\(algorithm.rawValue) data is corrupt: \(detail)"
        case .truncatedInput(let algorithm):
            return "\(algorithm.rawValue) data is truncated"
        case .trailingData(let algorithm):
            return "unexpected bytes after the end of the \(algorithm.rawValue) data"
        case .compressionFailed(let algorithm, let detail):
            return "\(algorithm.rawValue) compression failed: \(detail)"
        }
    }
}
