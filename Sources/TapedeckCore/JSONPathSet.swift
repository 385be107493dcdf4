/// Several JSON paths matched incrementally while walking down a value: each step of the walk costs a
/// few comparisons, instead of matching every path against the whole location again.
///
/// ```swift
/// let set = JSONPathSet([try JSONPath(parsing: "$..updated_at")])
/// let data = set.child(set.root, .key("data"))
/// set.child(data, .key("updated_at")).isCovered  // true
/// ```
public struct JSONPathSet: Sendable, Hashable {
    public let paths: [JSONPath]

    /// Where the walk is: which step of which path could match next.
    public struct State: Sendable, Hashable {
        fileprivate var positions: [Position]
        /// Whether some path selects this location or one of its ancestors.
        public private(set) var isCovered: Bool
        /// Whether no path can match here or below (nothing left to check).
        public var isDead: Bool { positions.isEmpty && !isCovered }

        fileprivate init(positions: [Position], isCovered: Bool) {
            self.positions = positions
            self.isCovered = isCovered
        }
    }

    fileprivate struct Position: Sendable, Hashable {
        var path: Int
        var step: Int
    }

    public init(_ paths: [JSONPath]) { self.paths = paths }

    /// The state at `$`.
    public var root: State {
        var positions: [Position] = []
        var covered = false
        for (i, p) in paths.enumerated() {
            if p.steps.isEmpty { covered = true } else { positions.append(Position(path: i, step: 0)) }
        }
        return State(positions: covered ? [] : positions, isCovered: covered)
    }

    /// The state one step below `state`.
    public func child(_ state: State, _ component: ValuePath.Component) -> State {
        if state.isCovered { return state }
        if state.positions.isEmpty { return state }
        var next: [Position] = []
        func advance(_ p: Position) -> Bool {
            let n = Position(path: p.path, step: p.step + 1)
            if n.step == paths[p.path].steps.count { return true }
            if !next.contains(n) { next.append(n) }
            return false
        }
        for p in state.positions {
            switch (paths[p.path].steps[p.step], component) {
            case (.key(let k), .key(let l)) where k == l:
                if advance(p) { return State(positions: [], isCovered: true) }
            case (.index(let n), .index(let i)) where n == i:
                if advance(p) { return State(positions: [], isCovered: true) }
            case (.wildcard, _):
                if advance(p) { return State(positions: [], isCovered: true) }
            case (.descendant(let k), _):
                if !next.contains(p) { next.append(p) }
                if case .key(let l) = component, l == k, advance(p) { return State(positions: [], isCovered: true) }
            default:
                break
            }
        }
        return State(positions: next, isCovered: false)
    }
}
