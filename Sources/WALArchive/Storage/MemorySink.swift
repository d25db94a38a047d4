/// Collects a small object (the archive identity) in memory, refusing more than `limit` bytes,
/// and bytes `accepts` refuses: those count as damaged (`StorageError.sinkFailed` from `end`),
/// so a store that retries downloads the object again, since the damage may have happened on
/// the way.
final class MemorySink: ObjectSink {
    let limit: Int
    private let accepts: ([UInt8]) -> Bool
    private(set) var bytes: [UInt8] = []
    /// The last attempt's body was larger than `limit` (cut there).
    private(set) var exceededLimit = false

    init(limit: Int, accepts: @escaping ([UInt8]) -> Bool = { _ in true }) {
        self.limit = limit
        self.accepts = accepts
    }

    func begin(_ object: ObjectInfo) throws(StorageError) {
        bytes.removeAll(keepingCapacity: true)
        exceededLimit = false
    }

    func write(_ chunk: UnsafeRawBufferPointer) throws(StorageError) {
        guard bytes.count + chunk.count <= limit else {
            exceededLimit = true
            throw .sinkFailed(detail: "the object is larger than \(limit) bytes")
        }
        bytes.append(contentsOf: chunk)
    }

    func end() throws(StorageError) {
        guard accepts(bytes) else { throw .sinkFailed(detail: "the object is not what it should be") }
    }
}
