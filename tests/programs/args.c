/* The initial stack: argc, every argv string (empty ones and ones with spaces included), the NULL
   after them, and environment variables through getenv. Exits with status argc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv, char **envp)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=[%s] len %zu\n", i, argv[i], strlen(argv[i]));
    printf("argv[argc] is %s\n", argv[argc] == NULL ? "NULL" : "NOT NULL");
    const char *names[] = {"XLATE_TEST_VAR", "XLATE_TEST_EMPTY", "XLATE_TEST_UNSET"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        printf("%s=%s%s%s\n", names[i], v ? "[" : "", v ? v : "(unset)", v ? "]" : "");
    }
    /* envp must be the same array that getenv searches */
    int seen = 0;
    for (char **e = envp; *e; e++)
        seen += strncmp(*e, "XLATE_TEST_", 11) == 0;
    printf("XLATE_TEST_ variables in envp: %d\n", seen);
    return argc;
}
