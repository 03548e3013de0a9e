/* Guest address -> compiled code: an open-addressing hash table that the dispatch loop probes
 * once per block.  Removal leaves tombstones so that probe chains stay intact. */
#include <stdlib.h>

#include "runtime.h"

#define TOMBSTONE ((void *)1)

struct entry {
    uint64_t guest_addr;
    void *code; /* NULL: never used; TOMBSTONE: removed */
};

struct xlate_code_map {
    xlate_jump_entry jump_cache[XLATE_JUMP_CACHE_SIZE];
    struct entry *slots;
    uint64_t mask;  /* capacity - 1, capacity a power of two */
    uint64_t count; /* live entries */
    uint64_t used;  /* live entries and tombstones */
};

static void clear_jump_cache(xlate_code_map *map);

static uint64_t slot_of(uint64_t guest_addr, uint64_t mask)
{
    /* Fibonacci hashing spreads the low-entropy, often aligned addresses. */
    return (guest_addr * 0x9E3779B97F4A7C15ull >> 20) & mask;
}

xlate_code_map *xlate_code_map_new(void)
{
    xlate_code_map *map = calloc(1, sizeof *map);
    if (!map)
        return NULL;
    map->mask = (1u << 12) - 1;
    map->slots = calloc(map->mask + 1, sizeof *map->slots);
    if (!map->slots) {
        free(map);
        return NULL;
    }
    clear_jump_cache(map);
    return map;
}

void xlate_code_map_free(xlate_code_map *map)
{
    if (map) {
        free(map->slots);
        free(map);
    }
}

static xlate_jump_entry *jump_slot(xlate_code_map *map, uint64_t guest_addr)
{
    return &map->jump_cache[(guest_addr ^ guest_addr >> XLATE_JUMP_CACHE_BITS) &
                            (XLATE_JUMP_CACHE_SIZE - 1)];
}

void *xlate_code_map_lookup(xlate_code_map *map, uint64_t guest_addr)
{
    for (uint64_t i = slot_of(guest_addr, map->mask);; i = (i + 1) & map->mask) {
        struct entry *e = &map->slots[i];
        if (!e->code)
            return NULL;
        if (e->code != TOMBSTONE && e->guest_addr == guest_addr) {
            xlate_jump_entry *j = jump_slot(map, guest_addr);
            j->guest_addr = guest_addr;
            j->code = e->code;
            return e->code;
        }
    }
}

xlate_jump_entry *xlate_code_map_jump_cache(xlate_code_map *map)
{
    return map->jump_cache;
}

/* What an empty jump cache entry runs, should a guest really branch to its address: back to
 * the dispatch loop, which looks the address up properly (cpu->rip is set before a probe). */
static int jump_cache_miss(xlate_cpu *cpu, uint8_t *mem_base)
{
    (void)cpu;
    (void)mem_base;
    return XLATE_EXIT_NEXT;
}

static void clear_jump_cache(xlate_code_map *map)
{
    for (int i = 0; i < XLATE_JUMP_CACHE_SIZE; i++) {
        map->jump_cache[i].guest_addr = UINT64_MAX;
        map->jump_cache[i].code = (void *)jump_cache_miss;
    }
}

static void put(xlate_code_map *map, uint64_t guest_addr, void *code)
{
    for (uint64_t i = slot_of(guest_addr, map->mask);; i = (i + 1) & map->mask) {
        struct entry *e = &map->slots[i];
        if (!e->code || e->code == TOMBSTONE) {
            map->used += !e->code;
            map->count++;
            e->guest_addr = guest_addr;
            e->code = code;
            return;
        }
        if (e->guest_addr == guest_addr) {
            e->code = code;
            return;
        }
    }
}

static int grow(xlate_code_map *map)
{
    struct entry *old = map->slots;
    uint64_t old_capacity = map->mask + 1;
    /* Rehash into a table twice the live size at least, dropping tombstones. */
    uint64_t capacity = old_capacity;
    while (capacity < 4 * (map->count + 1))
        capacity *= 2;
    struct entry *slots = calloc(capacity, sizeof *slots);
    if (!slots)
        return -1;
    map->slots = slots;
    map->mask = capacity - 1;
    map->count = map->used = 0;
    for (uint64_t i = 0; i < old_capacity; i++)
        if (old[i].code && old[i].code != TOMBSTONE)
            put(map, old[i].guest_addr, old[i].code);
    free(old);
    return 0;
}

int xlate_code_map_insert(xlate_code_map *map, uint64_t guest_addr, void *code)
{
    if (2 * (map->used + 1) > map->mask + 1 && grow(map))
        return -1;
    put(map, guest_addr, code);
    return 0;
}

void xlate_code_map_remove_range(xlate_code_map *map, uint64_t start, uint64_t end)
{
    clear_jump_cache(map);
    for (uint64_t i = 0; i <= map->mask; i++) {
        struct entry *e = &map->slots[i];
        if (e->code && e->code != TOMBSTONE && e->guest_addr >= start && e->guest_addr < end) {
            e->code = TOMBSTONE;
            map->count--;
        }
    }
}
