#define _GNU_SOURCE 1
#include "celf.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

bool celf_init(void) { return elf_version(EV_CURRENT) != EV_NONE; }

Elf *celf_begin(int fd) { return elf_begin(fd, ELF_C_READ_MMAP, NULL); }

void celf_end(Elf *elf) { elf_end(elf); }

bool celf_is_elf(Elf *elf) { return elf_kind(elf) == ELF_K_ELF; }

int celf_read_header(Elf *elf, celf_header *out) {
    GElf_Ehdr ehdr;
    size_t phnum, shnum;
    if (gelf_getehdr(elf, &ehdr) == NULL) return -1;
    if (elf_getphdrnum(elf, &phnum) != 0 || elf_getshdrnum(elf, &shnum) != 0) return -1;
    out->type = ehdr.e_type;
    out->machine = ehdr.e_machine;
    out->entry = ehdr.e_entry;
    out->phnum = phnum;
    out->shnum = shnum;
    return 0;
}

int celf_segment_at(Elf *elf, size_t index, celf_segment *out) {
    GElf_Phdr phdr;
    if (gelf_getphdr(elf, (int)index, &phdr) == NULL) return -1;
    out->type = phdr.p_type;
    out->flags = phdr.p_flags;
    out->offset = phdr.p_offset;
    out->vaddr = phdr.p_vaddr;
    out->filesz = phdr.p_filesz;
    out->memsz = phdr.p_memsz;
    return 0;
}

Elf_Scn *celf_next_section(Elf *elf, Elf_Scn *prev, celf_section *out) {
    size_t shstrndx;
    if (elf_getshdrstrndx(elf, &shstrndx) != 0) return NULL;
    for (Elf_Scn *scn = elf_nextscn(elf, prev); scn != NULL; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr shdr;
        if (gelf_getshdr(scn, &shdr) == NULL) continue;
        const char *name = elf_strptr(elf, shstrndx, shdr.sh_name);
        out->name = name != NULL ? name : "";
        out->type = shdr.sh_type;
        out->flags = shdr.sh_flags;
        out->addr = shdr.sh_addr;
        out->offset = shdr.sh_offset;
        out->size = shdr.sh_size;
        return scn;
    }
    return NULL;
}

Elf_Scn *celf_find_section(Elf *elf, const char *name, celf_section *out) {
    Elf_Scn *scn = NULL;
    while ((scn = celf_next_section(elf, scn, out)) != NULL) {
        if (strcmp(out->name, name) == 0) return scn;
    }
    return NULL;
}

Elf_Scn *celf_symbol_table(Elf *elf, bool dynamic, size_t *count) {
    GElf_Word wanted = dynamic ? SHT_DYNSYM : SHT_SYMTAB;
    for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn != NULL; scn = elf_nextscn(elf, scn)) {
        GElf_Shdr shdr;
        if (gelf_getshdr(scn, &shdr) == NULL || shdr.sh_type != wanted) continue;
        size_t entsize = shdr.sh_entsize != 0 ? shdr.sh_entsize : gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
        *count = entsize != 0 ? shdr.sh_size / entsize : 0;
        return scn;
    }
    return NULL;
}

int celf_symbol_at(Elf *elf, Elf_Scn *table, size_t index, celf_symbol *out) {
    GElf_Shdr shdr;
    GElf_Sym sym;
    if (gelf_getshdr(table, &shdr) == NULL) return -1;
    Elf_Data *data = elf_getdata(table, NULL);
    if (data == NULL || gelf_getsym(data, (int)index, &sym) == NULL) return -1;
    const char *name = elf_strptr(elf, shdr.sh_link, sym.st_name);
    out->name = name != NULL ? name : "";
    out->value = sym.st_value;
    out->size = sym.st_size;
    out->type = GELF_ST_TYPE(sym.st_info);
    out->bind = GELF_ST_BIND(sym.st_info);
    out->shndx = sym.st_shndx;
    return 0;
}

const char *celf_errmsg(void) { return elf_errmsg(-1); }

typedef char *(*celf_cxa_demangle_fn)(const char *, char *, size_t *, int *);

bool celf_demangle(const char *name, char *out, size_t len) {
    static celf_cxa_demangle_fn demangle;
    static int looked_up;
    if (!looked_up) {
        demangle = (celf_cxa_demangle_fn)dlsym(RTLD_DEFAULT, "__cxa_demangle");
        looked_up = 1;
    }
    if (demangle == NULL || len == 0 || strncmp(name, "_Z", 2) != 0) return false;
    int status = 0;
    char *result = demangle(name, NULL, NULL, &status);
    if (result == NULL || status != 0) { free(result); return false; }
    strncpy(out, result, len - 1);
    out[len - 1] = 0;
    free(result);
    return true;
}
