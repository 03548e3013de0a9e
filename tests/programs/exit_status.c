/* Exit paths: stdout (buffered) and stderr (unbuffered) output, an atexit handler, and exit() with
   the status in argv[1]. argv[2] repeats the stderr line, for benchmarks. */
#include <stdio.h>
#include <stdlib.h>

static int status;

static void at_exit_handler(void)
{
    /* runs after main returns, before stdio is flushed */
    printf("atexit handler, status %d\n", status);
}

int main(int argc, char **argv)
{
    status = argc > 1 ? atoi(argv[1]) : 3;
    int reps = argc > 2 ? atoi(argv[2]) : 1;
    atexit(at_exit_handler);
    printf("about to exit with %d\n", status);
    for (int i = 0; i < reps; i++)
        fprintf(stderr, "exit_status: exiting with status %d (%s)\n", status, argc > 1 ? argv[1] : "default");
    exit(status);
}
