/* The syscalls that compiled code makes most, made by the dispatch loop without going back to
 * Python: reads and writes of guest memory, one host call each, as xlate/linux/files.py makes
 * them. Anything out of the ordinary goes to Python instead: a buffer beyond the guest space or
 * on a page that code was translated from (a read there must drop the code; its host page may
 * be write-protected), and any error, after which Python makes the call again, as a call that
 * failed changed nothing. */
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "runtime.h"

enum { NR_READ = 0, NR_WRITE = 1 };

#define MAX_IO (1u << 30) /* the most one call moves, as in files.py */

/* Whether [guest_addr, +size), in the guest space, touches a page with translated code. */
static int holds_code(const xlate_cpu *cpu, uint64_t guest_addr, uint64_t size)
{
    if (!size)
        return 0;
    for (uint64_t page = guest_addr >> 12; page <= (guest_addr + size - 1) >> 12; page++)
        if (cpu->code_pages[page] & (XLATE_CODE_HERE | XLATE_CODE_ARMED))
            return 1;
    return 0;
}

int xlate_syscall(xlate_cpu *cpu)
{
    uint64_t number = cpu->gpr[RAX], fd = cpu->gpr[RDI], buf = cpu->gpr[RSI];
    uint64_t count = cpu->gpr[RDX];
    if ((number != NR_READ && number != NR_WRITE) || fd > INT_MAX || count > MAX_IO ||
        buf >= XLATE_GUEST_SPACE || count > XLATE_GUEST_SPACE - buf ||
        (number == NR_READ && holds_code(cpu, buf, count)))
        return 0;
    void *host = cpu->mem_base + buf;
    ssize_t done = number == NR_READ ? read((int)fd, host, count) : write((int)fd, host, count);
    if (done < 0)
        return 0;
    cpu->gpr[RAX] = (uint64_t)done;
    cpu->c_syscall_count++;
    return 1;
}
