import TraceModel

/// The semantics of one Chrome-trace dialect (Kineto's today; torch_npu's text export is another):
/// what `TraceParser` hands each event and top-level member to, and which parts of an event a lean
/// load skips unread. Every decoder feeds a `TimelineBuilder`.
protocol ChromeTraceDecoder: AnyObject {
    /// What every dialect does alike: counting, the lean-load filter, the common rows.
    var events: ChromeEvents { get }

    /// A top-level member other than `traceEvents`, with its raw JSON text.
    func topLevel(_ name: String, _ text: [UInt8]) throws
    /// One parsed event, its args appended to the builder from `e.argStart`.
    func consume(_ e: inout RawEvent)
    /// Whether a lean load reads nothing of an event after its phase.
    func skipsAfterPhase(_ ph: UInt8) -> Bool
}

/// A dialect whose file can be parsed as two parts on two cores (`TraceLoader.parseInTwo`).
protocol SplittableDecoder: ChromeTraceDecoder, SendableMetatype {
    init(builder: TimelineBuilder, argKeys: Set<String>?)
    /// Takes in what `part` (the continuation of this input, read on another core) read.
    func absorb(_ part: Self) throws
    /// Completes the model once every event is read.
    func finish() throws(ImportError)
}

extension ChromeTraceDecoder {
    /// The builder the parser appends each event's args to.
    var builder: TimelineBuilder { events.builder }
    /// The arg and event names the parser recognises as small integers.
    var keys: WellKnownKeys { events.keys }
    /// Events read so far (for progress reports).
    var eventsConsumed: Int { events.eventsConsumed }
    /// Counts an event a lean load skipped after its phase.
    func countSkipped(_ ph: UInt8) { events.count(ph) }
    @inline(__always) func skipsArgs(category: UInt32) -> Bool { events.skipsArgs(category: category) }
    @inline(__always) func filtersArgs(ofPhase ph: UInt8) -> Bool { events.filtersArgs(ofPhase: ph) }
    @inline(__always) func keepsInLeanLoad(_ key: UInt32) -> Bool { events.keepsInLeanLoad(key) }
    @inline(__always) func isBookkeeping(_ key: UInt32) -> Bool { events.isBookkeeping(key) }
}
