/// Why a JSON text could not be read: a syntax error, or a value of the wrong kind.
///
/// `path` names where in the document the problem is (`mutations[3].client_action_id`),
/// empty for the document itself; ``description`` puts the two together.
public struct JSONReadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, without the path: "must be an integer", "is required".
    public var problem: String
    /// The keys and indexes that lead to the value, outermost first.
    public var path: [String]
    /// The byte offset in the document where the problem was found.
    public var offset: Int

    /// Creates an error.
    public init(_ problem: String, path: [String] = [], offset: Int) {
        self.problem = problem
        self.path = path
        self.offset = offset
    }

    /// `path problem`, or `the body problem` when the path is empty, e.g.
    /// `mutations[0].entity must be a string`.
    public var description: String {
        var rendered = ""
        for component in path {
            if component.hasPrefix("[") || rendered.isEmpty {
                rendered += component
            } else {
                rendered += "." + component
            }
        }
        return "\(rendered.isEmpty ? "the body" : rendered) \(problem)"
    }
}
