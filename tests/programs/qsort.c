/* qsort and bsearch through function pointers: ints both ways, strings, and structs on two keys. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng = 12345;

static uint32_t next(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

static int cmp_int_asc(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cmp_int_desc(const void *a, const void *b)
{
    return cmp_int_asc(b, a);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* longest first, then reverse alphabetical: exercises a comparator that calls out and negates */
static int cmp_str_len_rev(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t lx = strlen(x), ly = strlen(y);
    if (lx != ly)
        return lx < ly ? 1 : -1;
    return -strcmp(x, y);
}

struct rec {
    int key;
    unsigned id; /* unique, so every comparison is total and the order does not depend on the libc */
    double weight;
};

static int cmp_rec(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->weight != y->weight)
        return x->weight > y->weight ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

typedef int (*cmp_fn)(const void *, const void *);

static uint32_t hash_ints(const int *a, int n)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++)
        h = (h ^ (uint32_t)a[i]) * 16777619u;
    return h;
}

static int sorted(const void *base, size_t n, size_t size, cmp_fn cmp)
{
    const char *p = base;
    for (size_t i = 1; i < n; i++)
        if (cmp(p + (i - 1) * size, p + i * size) > 0)
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 120;
    if (n < 8)
        n = 8; /* the report prints a few elements from each end */
    int ok = 1;
    int *a = malloc(sizeof *a * (size_t)n);
    for (int i = 0; i < n; i++)
        a[i] = (int)(next() % 20001) - 10000;
    cmp_fn int_cmps[] = {cmp_int_asc, cmp_int_desc};
    for (int k = 0; k < 2; k++) {
        qsort(a, (size_t)n, sizeof *a, int_cmps[k]);
        ok &= sorted(a, (size_t)n, sizeof *a, int_cmps[k]);
        printf("ints %s: first %d last %d median %d hash %08x\n", k ? "desc" : "asc", a[0], a[n - 1],
               a[n / 2], hash_ints(a, n));
    }
    qsort(a, (size_t)n, sizeof *a, cmp_int_asc);
    int found = 0;
    for (int probe = -10000; probe <= 10000; probe += 97)
        found += bsearch(&probe, a, (size_t)n, sizeof *a, cmp_int_asc) != NULL;
    printf("bsearch hits: %d\n", found);

    int ns = n / 3 + 1;
    char **s = malloc(sizeof *s * (size_t)ns);
    for (int i = 0; i < ns; i++) {
        int len = 1 + (int)(next() % 8);
        s[i] = malloc((size_t)len + 1);
        for (int j = 0; j < len; j++)
            s[i][j] = (char)('a' + next() % 6);
        s[i][len] = 0;
    }
    qsort(s, (size_t)ns, sizeof *s, cmp_str);
    ok &= sorted(s, (size_t)ns, sizeof *s, cmp_str);
    printf("strings: %s %s %s ... %s\n", s[0], s[1], s[2], s[ns - 1]);
    qsort(s, (size_t)ns, sizeof *s, cmp_str_len_rev);
    ok &= sorted(s, (size_t)ns, sizeof *s, cmp_str_len_rev);
    printf("by length: %s %s ... %s %s\n", s[0], s[1], s[ns - 2], s[ns - 1]);
    uint32_t sh = 0;
    for (int i = 0; i < ns; i++)
        for (const char *c = s[i]; *c; c++)
            sh = sh * 131 + (uint32_t)*c;
    printf("string hash %08x\n", sh);

    struct rec *r = malloc(sizeof *r * (size_t)n);
    for (int i = 0; i < n; i++) {
        r[i].key = (int)(next() % 16);
        r[i].id = (unsigned)i;
        r[i].weight = (double)(next() % 100) / 8.0;
    }
    qsort(r, (size_t)n, sizeof *r, cmp_rec);
    ok &= sorted(r, (size_t)n, sizeof *r, cmp_rec);
    uint32_t rh = 0;
    for (int i = 0; i < n; i++)
        rh = rh * 33 + r[i].id;
    printf("records: first (%d,%u,%.3f) last (%d,%u,%.3f) hash %08x\n", r[0].key, r[0].id,
           r[0].weight, r[n - 1].key, r[n - 1].id, r[n - 1].weight, rh);

    for (int i = 0; i < ns; i++)
        free(s[i]);
    free(s);
    free(r);
    free(a);
    printf("%s\n", ok ? "sorted" : "NOT SORTED");
    return ok ? 0 : 1;
}
