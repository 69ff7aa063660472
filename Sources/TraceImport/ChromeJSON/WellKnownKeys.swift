import TraceModel

/// Arg and event names the importer recognises, interned first so they compare as small integers.
struct WellKnownKeys {
    let correlation, externalID, externalIDLower, evIdx, recordFunctionID: UInt32
    let lastSpecial: UInt32
    let memory, name, labels, sortIndex: UInt32
    let processName, threadName, processLabels, processSortIndex, threadSortIndex: UInt32
    let bytes, totalAllocated, totalReserved, addr, deviceType, deviceID: UInt32
    /// The `python_function` category.
    let pythonFunction: UInt32
    /// MTIA's DMA transfer events (`dma_request`, category `mtia_ccp_events`): memcpys.
    let dmaRequest: UInt32

    init(_ s: StringTable) {
        correlation = s.intern("correlation")
        externalID = s.intern("External id")
        externalIDLower = s.intern("external id")
        evIdx = s.intern("Ev Idx")
        recordFunctionID = s.intern("Record function id")
        lastSpecial = recordFunctionID
        memory = s.intern("[memory]")
        name = s.intern("name")
        labels = s.intern("labels")
        sortIndex = s.intern("sort_index")
        processName = s.intern("process_name")
        threadName = s.intern("thread_name")
        processLabels = s.intern("process_labels")
        processSortIndex = s.intern("process_sort_index")
        threadSortIndex = s.intern("thread_sort_index")
        let memoryKeys = Self.memoryArgs.map { s.intern($0) }
        (bytes, totalAllocated, totalReserved) = (memoryKeys[0], memoryKeys[1], memoryKeys[2])
        (addr, deviceType, deviceID) = (memoryKeys[3], memoryKeys[4], memoryKeys[5])
        pythonFunction = s.intern("python_function")
        dmaRequest = s.intern("dma_request")
    }

    /// Arg keys of non-metadata events that the builder itself reads (`[memory]` events), in the
    /// order of the fields above.
    static let memoryArgs = ["Bytes", "Total Allocated", "Total Reserved", "Addr", "Device Type", "Device Id"]
}
