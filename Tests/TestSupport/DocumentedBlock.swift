import Foundation

/// One fenced code block of a Markdown document that the documentation tests run, marked by the
/// HTML comment `<!-- doc-test: NAME -->` on the line before its opening fence (invisible when
/// the document is rendered).
public struct DocumentedBlock: Sendable, Equatable {
    public let name: String
    /// The document, relative to the package root (`docs/pitr-runbook.md`).
    public let document: String
    /// Its place among the document's fenced blocks: what "in the document's order" means.
    public let position: Int
    /// The line of the opening fence, for messages.
    public let line: Int
    /// The fence's info string: `sh` or `sql`.
    public let language: String
    public let text: String

    /// Languages a reader would paste into a shell or psql: every block in one of them must be
    /// marked, so no command in the documents goes untested.
    public static let runnableLanguages: Set<String> = ["sh", "bash", "shell", "console", "sql", "psql"]

    /// Reads the marked blocks of `documents` (paths relative to the package root), keyed by name.
    /// Throws when a marker is not followed by a fence, when a name repeats, when a fence has no
    /// info string (a reader cannot tell a command from a snippet), or when a block in a runnable
    /// language is not marked.
    public static func load(_ documents: [String]) throws -> [String: DocumentedBlock] {
        var blocks: [String: DocumentedBlock] = [:]
        for document in documents {
            let url = TestPaths.packageRoot.appendingPathComponent(document)
            let lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
            var pendingName: String?
            var position = 0
            var index = 0
            while index < lines.count {
                let line = lines[index]
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if let name = markerName(trimmed) {
                    guard pendingName == nil else { throw failure(document, index, "two markers without a block") }
                    pendingName = name
                    index += 1
                    continue
                }
                if trimmed.hasPrefix("```") {
                    let language = String(trimmed.dropFirst(3)).trimmingCharacters(in: .whitespaces)
                    guard !language.isEmpty else {
                        throw failure(document, index, "a fence without an info string (sh, sql, ini, text, ...)")
                    }
                    // A fence indented inside a list item: its lines lose that indentation too,
                    // as Markdown renders them (a heredoc's terminator must start its line).
                    let indentation = line.prefix { $0 == " " }.count
                    var body: [String] = []
                    var end = index + 1
                    while end < lines.count, lines[end].trimmingCharacters(in: .whitespaces) != "```" {
                        let content = lines[end]
                        let removable = min(indentation, content.prefix { $0 == " " }.count)
                        body.append(String(content.dropFirst(removable)))
                        end += 1
                    }
                    guard end < lines.count else { throw failure(document, index, "an unclosed fence") }
                    if let name = pendingName {
                        guard runnableLanguages.contains(language) else {
                            throw failure(document, index, "block \(name) is `\(language)`, not a shell or SQL block")
                        }
                        guard blocks[name] == nil else { throw failure(document, index, "block name \(name) repeats") }
                        blocks[name] = DocumentedBlock(name: name, document: document, position: position,
                                                       line: index + 1, language: language,
                                                       text: body.joined(separator: "\n") + "\n")
                    } else if runnableLanguages.contains(language) {
                        throw failure(document, index, "a `\(language)` block without a <!-- doc-test: NAME --> marker")
                    }
                    pendingName = nil
                    position += 1
                    index = end + 1
                    continue
                }
                if pendingName != nil && !trimmed.isEmpty {
                    throw failure(document, index, "a <!-- doc-test --> marker not followed by a fenced block")
                }
                index += 1
            }
        }
        return blocks
    }

    private static func markerName(_ line: String) -> String? {
        let prefix = "<!-- doc-test: ", suffix = " -->"
        guard line.hasPrefix(prefix), line.hasSuffix(suffix), line.count > prefix.count + suffix.count else { return nil }
        return String(line.dropFirst(prefix.count).dropLast(suffix.count))
    }

    private static func failure(_ document: String, _ index: Int, _ problem: String) -> DocumentationError {
        DocumentationError("\(document):\(index + 1): \(problem)")
    }
}

/// A document that the documentation tests cannot run as written.
public struct DocumentationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
