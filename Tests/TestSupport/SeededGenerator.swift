import WALArchive

/// Deterministic random numbers for property tests (SplitMix64), so a failure reproduces.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }

    /// Bytes with runs and repeats, like WAL: compressible but not trivially.
    public mutating func walLikeBytes(count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            let run = Int.random(in: 1...512, using: &self)
            switch Int.random(in: 0..<3, using: &self) {
            case 0: bytes.append(contentsOf: repeatElement(0, count: run))
            case 1: bytes.append(contentsOf: (0..<run).map { _ in UInt8.random(in: 0...255, using: &self) })
            default:
                let source = bytes.isEmpty ? [UInt8(7)] : Array(bytes.suffix(run))
                bytes.append(contentsOf: source)
            }
        }
        return Array(bytes.prefix(count))
    }
}
