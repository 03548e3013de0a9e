/* Dense switches that gcc compiles to jump tables (indirect jumps through a table in .rodata):
   a bytecode interpreter, a 32-case dispatcher in a loop, and a character classifier. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum op { PUSH, POP, DUP, SWAP, OVER, ADD, SUB, MUL, DIVU, MODU, AND, OR, XOR, SHL, SHR, NOT, NEG,
          INC, DEC, LOAD, STORE, JMP, JZ, JNZ, LT, EQ, PRINT, HALT };

/* computes sum over i < n of (i*i xor i) mod 1000003, and the count of i divisible by 7 */
static const int32_t code[] = {
    PUSH, 0, STORE, 0,            /* i = 0 */
    PUSH, 0, STORE, 1,            /* sum = 0 */
    PUSH, 0, STORE, 2,            /* sevens = 0 */
    /* 12: loop */
    LOAD, 0, LOAD, 3, LT, JZ, 53, /* if !(i < n) goto end */
    LOAD, 0, DUP, MUL, LOAD, 0, XOR, PUSH, 1000003, MODU,
    LOAD, 1, ADD, STORE, 1,
    LOAD, 0, PUSH, 7, MODU, JNZ, 46,
    LOAD, 2, INC, STORE, 2,
    /* 46: */
    LOAD, 0, INC, STORE, 0, JMP, 12,
    /* 53: end */
    LOAD, 1, PRINT, LOAD, 2, PRINT,
    PUSH, 5, PUSH, 3, OVER, OVER, SWAP, SUB, NEG, PUSH, 12, SHL, PUSH, 3, SHR, NOT, AND, PRINT,
    PUSH, 0xff, PUSH, 0x0f, OR, DEC, PUSH, 100, PUSH, 7, DIVU, EQ, PRINT, POP, HALT,
};

static uint64_t run(int64_t n, uint64_t *steps)
{
    int64_t stack[64], mem[8] = {0};
    int sp = 0, pc = 0;
    uint64_t out = 0;
    mem[3] = n;
    for (;;) {
        ++*steps;
        switch (code[pc++]) {
        case PUSH: stack[sp++] = code[pc++]; break;
        case POP: sp--; break;
        case DUP: stack[sp] = stack[sp - 1]; sp++; break;
        case SWAP: { int64_t t = stack[sp - 1]; stack[sp - 1] = stack[sp - 2]; stack[sp - 2] = t; } break;
        case OVER: stack[sp] = stack[sp - 2]; sp++; break;
        case ADD: sp--; stack[sp - 1] += stack[sp]; break;
        case SUB: sp--; stack[sp - 1] -= stack[sp]; break;
        case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
        case DIVU: sp--; stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] / (uint64_t)stack[sp]); break;
        case MODU: sp--; stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] % (uint64_t)stack[sp]); break;
        case AND: sp--; stack[sp - 1] &= stack[sp]; break;
        case OR: sp--; stack[sp - 1] |= stack[sp]; break;
        case XOR: sp--; stack[sp - 1] ^= stack[sp]; break;
        case SHL: sp--; stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] << (stack[sp] & 63)); break;
        case SHR: sp--; stack[sp - 1] >>= stack[sp] & 63; break;
        case NOT: stack[sp - 1] = ~stack[sp - 1]; break;
        case NEG: stack[sp - 1] = (int64_t)-(uint64_t)stack[sp - 1]; break;
        case INC: stack[sp - 1]++; break;
        case DEC: stack[sp - 1]--; break;
        case LOAD: stack[sp++] = mem[code[pc++]]; break;
        case STORE: mem[code[pc++]] = stack[--sp]; break;
        case JMP: pc = code[pc]; break;
        case JZ: pc = stack[--sp] == 0 ? code[pc] : pc + 1; break;
        case JNZ: pc = stack[--sp] != 0 ? code[pc] : pc + 1; break;
        case LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case EQ: sp--; stack[sp - 1] = stack[sp - 1] == stack[sp]; break;
        case PRINT:
            printf("vm: %lld\n", (long long)stack[sp - 1]);
            out = out * 31 + (uint64_t)stack[--sp];
            break;
        case HALT: return out;
        default: printf("bad opcode at %d\n", pc - 1); exit(2);
        }
    }
}

/* each case does different arithmetic, so gcc cannot turn the switch into a table of values */
static uint32_t dispatch(uint32_t sel, uint32_t x)
{
    switch (sel) {
    case 0: return x + 1;
    case 1: return x * 3;
    case 2: return x ^ 0x5555;
    case 3: return x >> 3;
    case 4: return x << 2;
    case 5: return ~x;
    case 6: return x - 77;
    case 7: return x * x;
    case 8: return x / 3;
    case 9: return x % 1000;
    case 10: return (x << 7) | (x >> 25);
    case 11: return x & 0xff00ff;
    case 12: return x | 0x10101;
    case 13: return x + (x >> 16);
    case 14: return x * 2654435761u;
    case 15: return x ^ (x >> 13);
    case 16: return x + 12345;
    case 17: return x - (x >> 1);
    case 18: return x / 10;
    case 19: return x % 77;
    case 20: return x * 9 + 1;
    case 21: return (x >> 11) ^ (x << 5);
    case 22: return x & (x - 1);
    case 23: return x | (x + 1);
    case 24: return x ^ 0xdeadbeef;
    case 25: return x + x / 7;
    case 26: return x * 0x9e3779b9u;
    case 27: return (x >> 1) + 0x40000000u;
    case 28: return x ^ (x << 9);
    case 29: return x - 0x01020304u;
    case 30: return x / 1000 * 999;
    case 31: return x % 65521 + 1;
    }
    return 0;
}

static int classify(int c)
{
    switch (c) {
    case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
        return 1;
    case 'a': case 'e': case 'i': case 'o': case 'u':
        return 2;
    case ' ': case '\t': case '\n':
        return 3;
    case '(': case ')': case '[': case ']': case '{': case '}':
        return 4;
    case '+': case '-': case '*': case '/': case '%': case '=': case '<': case '>':
        return 5;
    default:
        return c >= 'a' && c <= 'z' ? 6 : 0;
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 300;
    uint64_t steps = 0;
    uint64_t out = run(n, &steps);
    printf("vm result %016llx after %llu steps\n", (unsigned long long)out, (unsigned long long)steps);

    uint32_t x = 0x12345678, hist = 0;
    for (int i = 0; i < n * 20; i++) {
        x = dispatch((x ^ (uint32_t)i) % 32, x) + (uint32_t)i;
        hist = hist * 17 + (x & 0xff);
    }
    printf("dispatch x %08x hist %08x\n", x, hist);

    const char *text = "for (i = 0; i < n; i++) { sum += a[i] * 42 - b[i] % 7; }\tif (x>y) z=1;\n";
    int counts[7] = {0};
    for (int r = 0; r < 10; r++)
        for (const char *p = text; *p; p++)
            counts[classify(*p)]++;
    printf("classes:");
    for (int i = 0; i < 7; i++)
        printf(" %d", counts[i]);
    printf("\n");
    return 0;
}
