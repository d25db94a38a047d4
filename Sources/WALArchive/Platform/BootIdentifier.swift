import Glibc

/// Which boot of this machine the process runs in: the kernel's random boot id
/// (`/proc/sys/kernel/random/boot_id`, a new UUID at every boot). A local record that vouches
/// for a file without reading it again names the boot it was written in, and is trusted in that
/// boot only: a crash or reboot may have lost or torn what was not yet on the disk, and only a
/// reading of the bytes can tell then.
enum BootIdentifier {
    /// Nil where the kernel does not tell (then no such record is written or trusted).
    static let current: String? = {
        guard let bytes = try? FileOperations.readWholeFile("/proc/sys/kernel/random/boot_id", limit: 64) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        return text.count == 36 && text.allSatisfy({ $0.isHexDigit || $0 == "-" }) ? text : nil
    }()
}
