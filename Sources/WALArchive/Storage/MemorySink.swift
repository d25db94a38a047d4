/// Collects a small object (the archive identity) in memory, refusing more than `limit` bytes.
final class MemorySink: ObjectSink {
    let limit: Int
    private(set) var bytes: [UInt8] = []

    init(limit: Int) {
        self.limit = limit
    }

    func begin(_ object: ObjectInfo) throws(StorageError) {
        bytes.removeAll(keepingCapacity: true)
    }

    func write(_ chunk: UnsafeRawBufferPointer) throws(StorageError) {
        guard bytes.count + chunk.count <= limit else {
            throw .sinkFailed(detail: "the object is larger than \(limit) bytes")
        }
        bytes.append(contentsOf: chunk)
    }
}
