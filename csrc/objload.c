/* The object loader: a relocatable ELF object, as LLVM emits one for a region, mapped into host
 * memory and relocated, so that code from the code cache runs without LLVM in the process.
 *
 * The object is untrusted input (a cache file, checksummed but written by anyone who can write
 * the cache directory): every offset, size and index is checked before it is used, headers are
 * copied out rather than cast in place (the image may be unaligned), and anything this loader
 * does not know is an error, never a guess.  Relocation types are the host's: a port adds its
 * relocator next to relocate_x86_64. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "runtime.h"

#define PAGE_SIZE 4096
/* Far more than a region needs; keeps every sum of sizes below free of overflow. */
#define MAX_SECTION_SIZE (1ull << 30)

/* Where an allocated section goes, by the permissions it needs. */
enum { CLASS_EXEC, CLASS_READ, CLASS_WRITE, CLASS_COUNT };

struct loader {
    const uint8_t *image;
    uint64_t image_size;
    Elf64_Shdr *sections;
    unsigned section_count;
    int *section_class;         /* CLASS_* of each allocated section, -1 for the others */
    uint64_t *section_offset;   /* of each allocated section in its class's pages */
    uint8_t **section_host;     /* host address of each allocated section, NULL for the others */
    unsigned symtab;            /* index of the symbol table's section */
    uint64_t symbol_count;
    const char *strings;        /* the symbol table's string table */
    uint64_t strings_size;
    const xlate_symbol *runtime;
    uint64_t runtime_count;
    char *error;
    uint64_t error_size;
};

static int fail(struct loader *l, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct loader *l, const char *format, ...)
{
    if (l->error_size) {
        va_list args;
        va_start(args, format);
        vsnprintf(l->error, l->error_size, format, args);
        va_end(args);
    }
    return -1;
}

static int in_image(const struct loader *l, uint64_t offset, uint64_t size)
{
    return offset <= l->image_size && size <= l->image_size - offset;
}

/* Applies one relocation of the host's machine at offset in a section of size bytes (host
 * address section): S is the symbol's host address, A the addend.  Returns 0 or fails. */
typedef int relocate_fn(struct loader *l, uint8_t *section, uint64_t size, uint64_t offset,
                        uint32_t type, uint64_t symbol, int64_t addend);

/* The bytes a relocation patches, or NULL (having failed) if they are not in the section. */
static uint8_t *place(struct loader *l, uint8_t *section, uint64_t size, uint64_t offset,
                      uint64_t width)
{
    if (offset > size || width > size - offset) {
        fail(l, "relocation at offset %#llx (%llu bytes) outside its section (%#llx bytes)",
             (unsigned long long)offset, (unsigned long long)width, (unsigned long long)size);
        return NULL;
    }
    return section + offset;
}

#if defined(__x86_64__)
static int relocate_x86_64(struct loader *l, uint8_t *section, uint64_t size, uint64_t offset,
                           uint32_t type, uint64_t symbol, int64_t addend)
{
    uint64_t value = symbol + (uint64_t)addend;
    uint64_t pc = (uint64_t)(uintptr_t)section + offset;
    int width = 4;
    int fits = 1;
    switch (type) {
    case R_X86_64_NONE:
        return 0;
    case R_X86_64_64:
        width = 8;
        break;
    case R_X86_64_PC64:
        value -= pc;
        width = 8;
        break;
    case R_X86_64_PC32:
    case R_X86_64_PLT32: /* no PLT: a direct call, if the target is within reach */
        value -= pc;
        fits = (int64_t)value == (int32_t)value;
        break;
    case R_X86_64_32:
        fits = value <= UINT32_MAX;
        break;
    case R_X86_64_32S:
        fits = (int64_t)value == (int32_t)value;
        break;
    default:
        return fail(l, "unsupported x86-64 relocation type %u", type);
    }
    uint8_t *p = place(l, section, size, offset, width);
    if (!p)
        return -1;
    if (!fits)
        return fail(l, "relocation type %u at offset %#llx: target out of reach", type,
                    (unsigned long long)offset);
    memcpy(p, &value, width); /* little-endian: the low bytes */
    return 0;
}
#define HOST_MACHINE EM_X86_64
#define HOST_RELOCATE relocate_x86_64
#else
#define HOST_MACHINE EM_NONE
#define HOST_RELOCATE NULL
#endif

static relocate_fn *const host_relocate = HOST_RELOCATE;

static int read_headers(struct loader *l, Elf64_Ehdr *header)
{
    if (l->image_size < sizeof *header)
        return fail(l, "truncated ELF header (%llu bytes)", (unsigned long long)l->image_size);
    memcpy(header, l->image, sizeof *header);
    if (memcmp(header->e_ident, ELFMAG, SELFMAG))
        return fail(l, "not an ELF object");
    if (header->e_ident[EI_CLASS] != ELFCLASS64 || header->e_ident[EI_DATA] != ELFDATA2LSB)
        return fail(l, "not a 64-bit little-endian ELF object");
    if (header->e_type != ET_REL)
        return fail(l, "not a relocatable object (type %u)", header->e_type);
    if (!host_relocate)
        return fail(l, "no object loader for this host's machine");
    if (header->e_machine != HOST_MACHINE)
        return fail(l, "object for machine %u, not this host's (%u)", header->e_machine,
                    HOST_MACHINE);
    /* From SHN_LORESERVE on, section indices mean something else. */
    if (header->e_shentsize != sizeof(Elf64_Shdr) || header->e_shnum == 0
        || header->e_shnum >= SHN_LORESERVE)
        return fail(l, "bad section header table (entry size %u, %u entries)",
                    header->e_shentsize, header->e_shnum);
    uint64_t table_size = (uint64_t)header->e_shnum * sizeof(Elf64_Shdr);
    if (!in_image(l, header->e_shoff, table_size))
        return fail(l, "section header table outside the file");
    l->section_count = header->e_shnum;
    l->sections = malloc(table_size);
    l->section_class = malloc(l->section_count * sizeof *l->section_class);
    l->section_offset = malloc(l->section_count * sizeof *l->section_offset);
    l->section_host = calloc(l->section_count, sizeof *l->section_host);
    if (!l->sections || !l->section_class || !l->section_offset || !l->section_host)
        return fail(l, "out of memory");
    memcpy(l->sections, l->image + header->e_shoff, table_size);
    return 0;
}

static int section_class(struct loader *l, unsigned i)
{
    const Elf64_Shdr *s = &l->sections[i];
    if (s->sh_type != SHT_PROGBITS && s->sh_type != SHT_NOBITS
#if defined(__x86_64__)
        && s->sh_type != SHT_X86_64_UNWIND
#endif
    )
        return fail(l, "section %u: unsupported allocated section type %#x", i, s->sh_type);
    if (s->sh_flags & SHF_TLS)
        return fail(l, "section %u: thread-local data is not supported", i);
    if ((s->sh_flags & SHF_EXECINSTR) && (s->sh_flags & SHF_WRITE))
        return fail(l, "section %u: both writable and executable", i);
    return s->sh_flags & SHF_EXECINSTR ? CLASS_EXEC
           : s->sh_flags & SHF_WRITE   ? CLASS_WRITE
                                       : CLASS_READ;
}

static uint64_t align_up(uint64_t value, uint64_t alignment)
{
    return (value + alignment - 1) & ~(alignment - 1);
}

/* Maps every allocated section: code first, then read-only data, then writable data, each
 * class on pages of its own, in one mapping (writable until relocated). */
static int map_sections(struct loader *l, xlate_object *object, uint64_t class_start[])
{
    uint64_t class_size[CLASS_COUNT] = {0};
    for (unsigned i = 0; i < l->section_count; i++) {
        const Elf64_Shdr *s = &l->sections[i];
        l->section_class[i] = -1;
        if (!(s->sh_flags & SHF_ALLOC))
            continue;
        int class = section_class(l, i);
        if (class < 0)
            return -1;
        uint64_t alignment = s->sh_addralign ? s->sh_addralign : 1;
        if ((alignment & (alignment - 1)) || alignment > PAGE_SIZE)
            return fail(l, "section %u: bad alignment %llu", i, (unsigned long long)alignment);
        if (s->sh_size > MAX_SECTION_SIZE)
            return fail(l, "section %u: too large", i);
        if (s->sh_type != SHT_NOBITS && !in_image(l, s->sh_offset, s->sh_size))
            return fail(l, "section %u: contents outside the file", i);
        l->section_class[i] = class;
        l->section_offset[i] = align_up(class_size[class], alignment);
        class_size[class] = l->section_offset[i] + s->sh_size;
        if (class_size[class] > MAX_SECTION_SIZE)
            return fail(l, "allocated sections too large");
    }
    uint64_t total = 0;
    for (int c = 0; c < CLASS_COUNT; c++) {
        class_start[c] = total;
        total += align_up(class_size[c], PAGE_SIZE);
    }
    if (!total)
        return fail(l, "no allocated sections");
    void *host = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (host == MAP_FAILED)
        return fail(l, "cannot map %llu bytes for code", (unsigned long long)total);
    object->host_base = host;
    object->host_size = total;
    for (unsigned i = 0; i < l->section_count; i++) {
        int class = l->section_class[i];
        if (class < 0)
            continue;
        const Elf64_Shdr *s = &l->sections[i];
        l->section_host[i] = object->host_base + class_start[class] + l->section_offset[i];
        if (s->sh_type != SHT_NOBITS) /* NOBITS: the fresh mapping is already zero */
            memcpy(l->section_host[i], l->image + s->sh_offset, s->sh_size);
    }
    return 0;
}

static int find_symbol_table(struct loader *l)
{
    unsigned found = 0;
    for (unsigned i = 0; i < l->section_count; i++) {
        if (l->sections[i].sh_type != SHT_SYMTAB)
            continue;
        if (found)
            return fail(l, "more than one symbol table");
        found = i;
    }
    if (!found)
        return fail(l, "no symbol table");
    const Elf64_Shdr *symtab = &l->sections[found];
    if (symtab->sh_entsize != sizeof(Elf64_Sym) || symtab->sh_size % sizeof(Elf64_Sym)
        || !in_image(l, symtab->sh_offset, symtab->sh_size))
        return fail(l, "section %u: bad symbol table", found);
    if (symtab->sh_link >= l->section_count
        || l->sections[symtab->sh_link].sh_type != SHT_STRTAB)
        return fail(l, "section %u: symbol table without a string table", found);
    const Elf64_Shdr *strtab = &l->sections[symtab->sh_link];
    if (!in_image(l, strtab->sh_offset, strtab->sh_size))
        return fail(l, "section %u: string table outside the file", symtab->sh_link);
    l->symtab = found;
    l->symbol_count = symtab->sh_size / sizeof(Elf64_Sym);
    l->strings = (const char *)l->image + strtab->sh_offset;
    l->strings_size = strtab->sh_size;
    return 0;
}

static int read_symbol(struct loader *l, uint64_t index, Elf64_Sym *symbol)
{
    if (index >= l->symbol_count)
        return fail(l, "symbol index %llu out of range", (unsigned long long)index);
    memcpy(symbol, l->image + l->sections[l->symtab].sh_offset + index * sizeof *symbol,
           sizeof *symbol);
    return 0;
}

/* The symbol's name, or NULL if it does not lie, NUL-terminated, in the string table. */
static const char *symbol_name(const struct loader *l, const Elf64_Sym *symbol)
{
    if (symbol->st_name >= l->strings_size
        || !memchr(l->strings + symbol->st_name, 0, l->strings_size - symbol->st_name))
        return NULL;
    return l->strings + symbol->st_name;
}

/* Host address of symbol index: defined in a mapped section, absolute, or one of the runtime's
 * functions by name. */
static int symbol_address(struct loader *l, uint64_t index, uint64_t *address)
{
    Elf64_Sym symbol;
    if (read_symbol(l, index, &symbol))
        return -1;
    if (index == 0) { /* the null symbol: relocations against nothing */
        *address = 0;
        return 0;
    }
    if (symbol.st_shndx == SHN_UNDEF) {
        const char *name = symbol_name(l, &symbol);
        if (!name)
            return fail(l, "symbol %llu: bad name", (unsigned long long)index);
        for (uint64_t i = 0; i < l->runtime_count; i++) {
            if (!strcmp(l->runtime[i].name, name)) {
                *address = (uint64_t)(uintptr_t)l->runtime[i].address;
                return 0;
            }
        }
        return fail(l, "undefined symbol %.80s", name);
    }
    if (symbol.st_shndx == SHN_ABS) {
        *address = symbol.st_value;
        return 0;
    }
    if (symbol.st_shndx >= l->section_count || !l->section_host[symbol.st_shndx])
        return fail(l, "symbol %llu: not in an allocated section", (unsigned long long)index);
    if (symbol.st_value > l->sections[symbol.st_shndx].sh_size)
        return fail(l, "symbol %llu: value outside its section", (unsigned long long)index);
    *address = (uint64_t)(uintptr_t)l->section_host[symbol.st_shndx] + symbol.st_value;
    return 0;
}

static int relocate_section(struct loader *l, unsigned i)
{
    const Elf64_Shdr *rela = &l->sections[i];
    if (rela->sh_info >= l->section_count)
        return fail(l, "section %u: relocates no section", i);
    uint8_t *target = l->section_host[rela->sh_info];
    if (!target) /* relocations of sections that are not loaded (debug information) */
        return 0;
    if (rela->sh_link != l->symtab || rela->sh_entsize != sizeof(Elf64_Rela)
        || rela->sh_size % sizeof(Elf64_Rela) || !in_image(l, rela->sh_offset, rela->sh_size))
        return fail(l, "section %u: bad relocation table", i);
    uint64_t target_size = l->sections[rela->sh_info].sh_size;
    for (uint64_t offset = 0; offset < rela->sh_size; offset += sizeof(Elf64_Rela)) {
        Elf64_Rela r;
        memcpy(&r, l->image + rela->sh_offset + offset, sizeof r);
        uint64_t symbol = 0;
        if (symbol_address(l, ELF64_R_SYM(r.r_info), &symbol)
            || host_relocate(l, target, target_size, r.r_offset, ELF64_R_TYPE(r.r_info), symbol,
                             r.r_addend))
            return -1;
    }
    return 0;
}

static int relocate(struct loader *l)
{
    for (unsigned i = 0; i < l->section_count; i++) {
        if (l->sections[i].sh_type == SHT_REL && l->sections[i].sh_info < l->section_count
            && l->section_host[l->sections[i].sh_info])
            return fail(l, "section %u: relocations without addends are not supported", i);
        if (l->sections[i].sh_type == SHT_RELA && relocate_section(l, i))
            return -1;
    }
    return 0;
}

/* The host address of the function named name, defined in a code section. */
static int find_entry(struct loader *l, const char *name, void **entry)
{
    for (uint64_t i = 1; i < l->symbol_count; i++) {
        Elf64_Sym symbol;
        read_symbol(l, i, &symbol);
        const char *found = symbol_name(l, &symbol);
        if (!found || strcmp(found, name))
            continue;
        if (ELF64_ST_TYPE(symbol.st_info) != STT_FUNC || symbol.st_shndx >= l->section_count
            || !l->section_host[symbol.st_shndx]
            || !(l->sections[symbol.st_shndx].sh_flags & SHF_EXECINSTR)
            || symbol.st_value >= l->sections[symbol.st_shndx].sh_size)
            return fail(l, "symbol %.80s is not a function in a code section", name);
        *entry = l->section_host[symbol.st_shndx] + symbol.st_value;
        return 0;
    }
    return fail(l, "no symbol %.80s", name);
}

static int protect(struct loader *l, xlate_object *object, const uint64_t class_start[])
{
    uint8_t *code = object->host_base + class_start[CLASS_EXEC];
    uint8_t *data = object->host_base + class_start[CLASS_READ];
    uint8_t *writable = object->host_base + class_start[CLASS_WRITE];
    __builtin___clear_cache((char *)code, (char *)data);
    if ((data > code && mprotect(code, data - code, PROT_READ | PROT_EXEC))
        || (writable > data && mprotect(data, writable - data, PROT_READ)))
        return fail(l, "cannot protect the loaded code");
    return 0;
}

xlate_object *xlate_object_load(const void *image, uint64_t image_size, const char *entry_name,
                                const xlate_symbol *symbols, uint64_t symbol_count, char *error,
                                uint64_t error_size)
{
    struct loader l = {
        .image = image, .image_size = image_size, .runtime = symbols,
        .runtime_count = symbol_count, .error = error, .error_size = error_size,
    };
    xlate_object *object = calloc(1, sizeof *object);
    Elf64_Ehdr header;
    uint64_t class_start[CLASS_COUNT];
    if (!object) {
        fail(&l, "out of memory");
    } else if (read_headers(&l, &header) || map_sections(&l, object, class_start)
               || find_symbol_table(&l) || relocate(&l)
               || find_entry(&l, entry_name, &object->entry)
               || protect(&l, object, class_start)) {
        xlate_object_free(object);
        object = NULL;
    }
    free(l.sections);
    free(l.section_class);
    free(l.section_offset);
    free(l.section_host);
    return object;
}

void xlate_object_free(xlate_object *object)
{
    if (!object)
        return;
    if (object->host_base)
        munmap(object->host_base, object->host_size);
    free(object);
}

void *xlate_runtime_symbol(const char *name)
{
    /* Looked up in this shared object, the extension module, which Python loads with its
     * symbols local to it: its handle, from where one of its functions is. */
    Dl_info info;
    if (!dladdr((void *)xlate_runtime_symbol, &info) || !info.dli_fname)
        return NULL;
    void *module = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!module)
        return NULL;
    void *address = dlsym(module, name);
    dlclose(module); /* (NOLOAD: only the count its dlopen added) */
    return address;
}
