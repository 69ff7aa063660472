import CElf
#if canImport(Glibc)
import Glibc
#endif

/// A defined symbol of an ELF file.
public struct ElfSymbol: Sendable, Equatable {
    public var name: String
    /// Link-time address.
    public var value: UInt64
    public var size: UInt64
    public var isFunction: Bool
}

/// The parts of an ELF file the sampler needs, read once through libelf (CElf) and then closed.
public struct ElfFile: Sendable {
    public var path: String
    public var type: UInt16
    public var segments: [celf_segment]
    /// Section name → (link-time address, size).
    public var sections: [String: (addr: UInt64, size: UInt64)]
    /// Defined symbols: `.symtab` first, then `.dynsym` names the symtab lacks.
    public var symbols: [ElfSymbol]

    /// Reads `path`, or nil when it is not a readable ELF file.
    public init?(path: String) {
        guard celf_init() else { return nil }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let elf = celf_begin(fd) else { return nil }
        defer { celf_end(elf) }
        guard celf_is_elf(elf) else { return nil }
        var header = celf_header()
        guard celf_read_header(elf, &header) == 0 else { return nil }
        self.path = path
        type = header.type
        segments = (0..<header.phnum).compactMap { i in
            var s = celf_segment()
            return celf_segment_at(elf, i, &s) == 0 ? s : nil
        }
        sections = [:]
        var section = celf_section()
        var scn = celf_next_section(elf, nil, &section)
        while let current = scn {
            if let name = section.name { sections[String(cString: name)] = (section.addr, section.size) }
            scn = celf_next_section(elf, current, &section)
        }
        symbols = []
        var seen = Set<String>()
        for dynamic in [false, true] {
            var count = 0
            guard let table = celf_symbol_table(elf, dynamic, &count) else { continue }
            for i in 0..<count {
                var sym = celf_symbol()
                guard celf_symbol_at(elf, table, i, &sym) == 0, sym.shndx != UInt16(SHN_UNDEF), sym.value != 0,
                      let cName = sym.name, cName.pointee != 0 else { continue }
                let isFunction = sym.type == UInt8(STT_FUNC)
                guard isFunction || sym.type == UInt8(STT_OBJECT) else { continue }
                let name = String(cString: cName)
                if dynamic && seen.contains(name) { continue }
                if !dynamic { seen.insert(name) }
                symbols.append(ElfSymbol(name: name, value: sym.value, size: sym.size, isFunction: isFunction))
            }
        }
    }

    /// The first defined symbol called `name`.
    public func symbol(_ name: String) -> ElfSymbol? { symbols.first { $0.name == name } }

    /// The load bias of this file in a process from its mappings (0 for non-PIE executables):
    /// runtime address = link-time address + bias.
    public func loadBias(in maps: [MemoryMap]) -> UInt64? {
        let pageMask: UInt64 = ~0xfff
        for m in maps where m.path == path {
            for s in segments where s.type == UInt32(PT_LOAD) {
                let segOffset = s.offset & pageMask
                guard m.offset >= segOffset, m.offset < segOffset + max(s.filesz, 1) else { continue }
                return m.start &- ((s.vaddr & pageMask) &+ (m.offset - segOffset))
            }
        }
        return nil
    }
}
