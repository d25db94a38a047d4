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

    /// Bytes with runs and repeats, like WAL: compressible but not trivially. Runs of zeros,
    /// runs of random bytes, and copies of up to a run's length of what came before.
    ///
    /// Written with pointers and `while` loops because tests are built without optimisation,
    /// where each generic call per byte (`UInt8.random(in:using:)`, `map`, `append`) made
    /// megabytes of test data cost seconds; the bytes are those of the per-byte formulation.
    public mutating func walLikeBytes(count: Int) -> [UInt8] {
        // A run may overshoot `count` by less than its largest length, 512.
        var bytes = [UInt8](repeating: 0, count: count + 512)
        bytes.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var filled = 0
            while filled < count {
                let run = Int.random(in: 1...512, using: &self)
                switch Int.random(in: 0..<3, using: &self) {
                case 0:
                    filled += run
                case 1:
                    fillUniformly(base + filled, count: run)
                    filled += run
                default:
                    if filled == 0 {
                        base[0] = 7
                        filled = 1
                    } else {
                        let length = min(run, filled)
                        (base + filled).update(from: base + filled - length, count: length)
                        filled += length
                    }
                }
            }
        }
        bytes.removeLast(512)
        return bytes
    }

    /// Uniformly random bytes: each is what `UInt8.random(in: 0...255, using: &self)` gives
    /// (the low byte of one `next()`), without its cost per byte in unoptimised builds.
    public mutating func uniformBytes(count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            fillUniformly(base, count: count)
        }
        return bytes
    }

    private mutating func fillUniformly(_ start: UnsafeMutablePointer<UInt8>, count: Int) {
        var index = 0
        while index < count {
            start[index] = UInt8(truncatingIfNeeded: next())
            index += 1
        }
    }
}
