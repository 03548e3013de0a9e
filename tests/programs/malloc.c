/* The heap: linked lists, a chained hash table of strings, realloc growth, calloc zeroing, and
   blocks large enough that the allocator maps them separately (mmap, mremap, munmap). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
    struct node *next;
    uint32_t value;
};

struct entry {
    struct entry *next;
    char *key;
    uint32_t count;
};

static uint32_t rng = 2463534242u;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 400;
    if (n < 4)
        n = 4; /* the vector test shrinks to 10 of its 4n elements */
    int ok = 1;

    /* a list built by pushing at the head, reversed in place, then freed */
    struct node *head = NULL;
    for (int i = 0; i < n; i++) {
        struct node *nd = malloc(sizeof *nd);
        nd->value = next() % 1000;
        nd->next = head;
        head = nd;
    }
    struct node *rev = NULL;
    while (head) {
        struct node *nx = head->next;
        head->next = rev;
        rev = head;
        head = nx;
    }
    uint64_t weighted = 0;
    int len = 0;
    for (struct node *p = rev; p; p = p->next)
        weighted += (uint64_t)p->value * (uint64_t)++len;
    printf("list: %d nodes, weighted sum %llu\n", len, (unsigned long long)weighted);
    while (rev) {
        struct node *nx = rev->next;
        free(rev);
        rev = nx;
    }

    /* a word-count hash table whose keys are separately allocated strings */
    size_t nbuckets = 64;
    struct entry **buckets = calloc(nbuckets, sizeof *buckets);
    size_t distinct = 0;
    for (int i = 0; i < n; i++) {
        char key[16];
        int klen = 1 + (int)(next() % 3);
        for (int j = 0; j < klen; j++)
            key[j] = (char)('a' + next() % 8);
        key[klen] = 0;
        struct entry **slot = &buckets[hash_str(key) % nbuckets];
        struct entry *e = *slot;
        while (e && strcmp(e->key, key))
            e = e->next;
        if (!e) {
            e = malloc(sizeof *e);
            e->key = malloc(strlen(key) + 1);
            strcpy(e->key, key);
            e->count = 0;
            e->next = *slot;
            *slot = e;
            distinct++;
        }
        e->count++;
    }
    /* delete every key with an odd count */
    size_t deleted = 0;
    uint32_t table_hash = 0;
    for (size_t b = 0; b < nbuckets; b++) {
        struct entry **pp = &buckets[b];
        while (*pp) {
            struct entry *e = *pp;
            if (e->count % 2) {
                *pp = e->next;
                free(e->key);
                free(e);
                deleted++;
            } else {
                table_hash += hash_str(e->key) * e->count;
                pp = &e->next;
            }
        }
    }
    printf("hash table: %zu distinct, %zu deleted, hash %08x\n", distinct, deleted, table_hash);
    for (size_t b = 0; b < nbuckets; b++)
        while (buckets[b]) {
            struct entry *e = buckets[b];
            buckets[b] = e->next;
            free(e->key);
            free(e);
        }
    free(buckets);

    /* a vector grown by doubling with realloc; the contents must survive each move */
    size_t cap = 1, size = 0;
    uint32_t *vec = malloc(cap * sizeof *vec);
    int moves = 0;
    for (int i = 0; i < n * 4; i++) {
        if (size == cap) {
            uint32_t *old = vec;
            cap *= 2;
            vec = realloc(vec, cap * sizeof *vec);
            moves += vec != old;
        }
        vec[size++] = (uint32_t)i * 2654435761u;
    }
    for (size_t i = 0; i < size; i++)
        ok &= vec[i] == (uint32_t)i * 2654435761u;
    printf("vector: %zu elements, capacity %zu, %s\n", size, cap, moves > 0 ? "moved" : "never moved");
    vec = realloc(vec, 10 * sizeof *vec); /* shrinking keeps the prefix */
    for (size_t i = 0; i < 10; i++)
        ok &= vec[i] == (uint32_t)i * 2654435761u;
    free(vec);

    /* calloc must hand back zeroed memory even when it reuses freed, dirtied blocks */
    for (int round = 0; round < 4; round++) {
        size_t sz = 100 + (size_t)round * 300;
        unsigned char *dirty = malloc(sz);
        memset(dirty, 0xab, sz);
        free(dirty);
        unsigned char *z = calloc(sz, 1);
        for (size_t i = 0; i < sz; i++)
            ok &= z[i] == 0;
        free(z);
    }

    /* above the allocators' mmap thresholds: mapped, grown in place or moved, and unmapped */
    size_t big = 1 << 20;
    unsigned char *m = malloc(big);
    for (size_t i = 0; i < big; i += 4096)
        m[i] = (unsigned char)(i >> 12);
    m = realloc(m, big * 3);
    for (size_t i = 0; i < big; i += 4096)
        ok &= m[i] == (unsigned char)(i >> 12);
    m[big * 3 - 1] = 7;
    unsigned char *zeroed = calloc(big, 2);
    size_t nonzero = 0;
    for (size_t i = 0; i < big * 2; i += 512)
        nonzero += zeroed[i] != 0;
    printf("big blocks: last byte %d, nonzero in calloc %zu\n", m[big * 3 - 1], nonzero);
    free(zeroed);
    free(m);

    /* many live blocks of mixed sizes freed in a scrambled order, so the free lists get merged */
    int nblk = n / 4 + 1;
    char **blk = malloc(sizeof *blk * (size_t)nblk);
    for (int i = 0; i < nblk; i++) {
        size_t sz = 8 + next() % 600;
        blk[i] = malloc(sz);
        memset(blk[i], i & 0x7f, sz);
        blk[i][0] = (char)(sz & 0x7f);
    }
    uint32_t mix = 0;
    for (int step = 0; step < nblk; step++) {
        int i = (int)(((unsigned)step * 7919u) % (unsigned)nblk);
        mix = mix * 3 + (unsigned char)blk[i][0];
        free(blk[i]);
    }
    free(blk);
    printf("mixed blocks: %d freed, mix %08x\n", nblk, mix);
    printf("%s\n", ok ? "heap ok" : "HEAP CORRUPT");
    return ok ? 0 : 1;
}
