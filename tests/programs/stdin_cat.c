/* Reads all of stdin (read(2) for the first bytes, then stdio) and reports byte and line counts, a
   checksum, the first line and the length of the longest line. argv[1] is how many times the
   checksum pass runs over the data, for benchmarks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 1;
    size_t cap = 64, len = 0;
    unsigned char *data = malloc(cap);
    /* a short raw read before stdio takes over, since stdio has not buffered anything yet */
    ssize_t got = read(0, data, 16);
    if (got < 0) {
        perror("read");
        return 2;
    }
    len = (size_t)got;
    for (;;) {
        if (len == cap) {
            cap *= 2;
            data = realloc(data, cap);
        }
        size_t r = fread(data + len, 1, cap - len, stdin);
        len += r;
        if (r == 0)
            break;
    }
    if (ferror(stdin)) {
        fprintf(stderr, "stdin_cat: read error\n");
        return 2;
    }
    size_t lines = 0, longest = 0, cur = 0;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n') {
            lines++;
            if (cur > longest)
                longest = cur;
            cur = 0;
        } else {
            cur++;
        }
    }
    if (cur > longest)
        longest = cur;
    uint32_t sum = 0;
    for (int r = 0; r < rounds; r++)
        for (size_t i = 0; i < len; i++)
            sum = (sum << 5 | sum >> 27) ^ (data[i] + (uint32_t)r);
    printf("bytes %zu lines %zu longest %zu checksum %08x\n", len, lines, longest, sum);
    size_t first = 0;
    while (first < len && data[first] != '\n')
        first++;
    printf("first line: [");
    fwrite(data, 1, first, stdout);
    printf("]\n");
    free(data);
    return len == 0 ? 1 : 0;
}
