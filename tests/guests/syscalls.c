/* Exercises the file system, descriptor, process and signal syscalls that ordinary programs use,
   printing only what is the same on every run (no pids, times or inode numbers), so that a native
   run and a run under xlate can be compared byte for byte.

   usage: syscalls dirs|files|cwd|io|proc|abort|raise|sigpipe|pending-kill|group-kill [DIR]
   DIR is an empty scratch directory, for the subcommands that make files. */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Raw syscall numbers and structs, so that glibc and musl builds make the same calls. */
#define NR_getdents64 217
#define NR_getcwd 79
#define NR_statx 332
#define NR_faccessat2 439
#define NR_renameat2 316
#define NR_memfd_create 319
#define NR_getcpu 309
#define NR_ppoll 271
#define NR_pselect6 270
#define NR_copy_file_range 326

struct dirent64_raw {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

struct statx_timestamp_raw { int64_t tv_sec; uint32_t tv_nsec; int32_t pad; };
struct statx_raw {
    uint32_t stx_mask, stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink, stx_uid, stx_gid;
    uint16_t stx_mode, pad1;
    uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
    struct statx_timestamp_raw stx_atime, stx_btime, stx_ctime, stx_mtime;
    uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
    uint64_t spare[14];
};

static const char *dir;

/* "what = result" or "what = -1 ENAME": errno names, not messages, for stable output. */
static const char *errname(int e) {
    switch (e) {
    case ENOENT: return "ENOENT"; case EEXIST: return "EEXIST"; case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR"; case ENOTEMPTY: return "ENOTEMPTY"; case EINVAL: return "EINVAL";
    case EBADF: return "EBADF"; case EACCES: return "EACCES"; case EAGAIN: return "EAGAIN";
    case ERANGE: return "ERANGE"; case ECHILD: return "ECHILD"; case ESRCH: return "ESRCH";
    case EPERM: return "EPERM"; case ENOMEM: return "ENOMEM"; case EPIPE: return "EPIPE";
    case ENOSYS: return "ENOSYS"; case EFAULT: return "EFAULT"; case ELOOP: return "ELOOP";
    case EXDEV: return "EXDEV"; case ESPIPE: return "ESPIPE";
    default: return "E?";
    }
}

static long report(const char *what, long result) {
    if (result < 0)
        printf("%s = -1 %s\n", what, errname(errno));
    else
        printf("%s = %ld\n", what, result);
    return result;
}
#define CHECK(expr) report(#expr, (long)(expr))

static char *at(const char *name) {
    static char buf[8][PATH_MAX];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, PATH_MAX, "%s/%s", dir, name);
    return p;
}

static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        perror(path);
        exit(2);
    }
    close(fd);
}

static const char *type_name(unsigned char t) {
    switch (t) {
    case DT_REG: return "reg"; case DT_DIR: return "dir"; case DT_LNK: return "lnk";
    case DT_FIFO: return "fifo"; case DT_UNKNOWN: return "unknown"; default: return "other";
    }
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Entries of an open DIR as sorted "name:type" lines. */
static int list_sorted(DIR *d, char **names, int max) {
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        names[n] = malloc(strlen(e->d_name) + 16);
        sprintf(names[n], "%s:%s", e->d_name, type_name(e->d_type));
        n++;
    }
    qsort(names, n, sizeof *names, by_name);
    return n;
}

/* Counts entries through raw getdents64 with a buffer of `size` bytes; *calls gets how many
   calls returned something. */
static int count_raw(int fd, size_t size, int *calls) {
    char buf[4096];
    int count = 0;
    long got;
    *calls = 0;
    while ((got = syscall(NR_getdents64, fd, buf, size)) > 0) {
        ++*calls;
        for (long off = 0; off < got;) {
            struct dirent64_raw *e = (struct dirent64_raw *)(buf + off);
            count++;
            off += e->d_reclen;
        }
    }
    return got < 0 ? -1 : count;
}

static int cmd_dirs(void) {
    char path[PATH_MAX];
    mkdir(at("list"), 0755);
    snprintf(path, sizeof path, "%s/list", dir);
    const char *files[] = {"alpha", "beta", "gamma", "a file with spaces", "\xc3\xa9t\xc3\xa9"};
    for (unsigned i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/list/%s", dir, files[i]);
        write_file(path, files[i]);
    }
    CHECK(mkdir(at("list/sub"), 0755));
    CHECK(symlink("alpha", at("list/link")));
    CHECK(mkfifo(at("list/fifo"), 0600));

    DIR *d = opendir(at("list"));
    char *names[64];
    int n = list_sorted(d, names, 64);
    printf("readdir: %d entries\n", n);
    for (int i = 0; i < n; i++)
        printf("  %s\n", names[i]);
    rewinddir(d);
    int again = 0;
    while (readdir(d)) again++;
    printf("after rewinddir: %d entries\n", again);

    /* telldir/seekdir: the entries after a saved position come back in the same order. */
    rewinddir(d);
    readdir(d);
    readdir(d);
    long pos = telldir(d);
    char first[3][256];
    for (int i = 0; i < 3; i++) {
        struct dirent *e = readdir(d);
        snprintf(first[i], 256, "%s", e ? e->d_name : "(end)");
    }
    seekdir(d, pos);
    int same = 1;
    for (int i = 0; i < 3; i++) {
        struct dirent *e = readdir(d);
        same &= strcmp(first[i], e ? e->d_name : "(end)") == 0;
    }
    printf("seekdir returns to the same entries: %s\n", same ? "yes" : "no");
    closedir(d);

    /* Raw getdents64: small buffers continue where the last call stopped; lseek rewinds. */
    int fd = open(at("list"), O_RDONLY | O_DIRECTORY);
    int calls;
    printf("getdents64 with 64-byte buffer: %d entries", count_raw(fd, 64, &calls));
    printf(" in %s calls\n", calls > 1 ? "several" : "one");
    printf("at the end: %d entries\n", count_raw(fd, 4096, &calls));
    CHECK(lseek(fd, 0, SEEK_SET));
    printf("after lseek 0: %d entries\n", count_raw(fd, 4096, &calls));
    char tiny[8];
    CHECK(lseek(fd, 0, SEEK_SET));
    CHECK(syscall(NR_getdents64, fd, tiny, sizeof tiny));
    close(fd);
    fd = open(at("list/alpha"), O_RDONLY);
    CHECK(syscall(NR_getdents64, fd, tiny, sizeof tiny));
    close(fd);
    CHECK(syscall(NR_getdents64, 999, tiny, sizeof tiny));

    /* A directory larger than one getdents64 buffer of the C library's. */
    mkdir(at("many"), 0755);
    for (int i = 0; i < 300; i++) {
        snprintf(path, sizeof path, "%s/many/file-with-a-longish-name-%03d", dir, i);
        write_file(path, "x");
    }
    d = opendir(at("many"));
    int count = 0, sum = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        count++;
        if (strncmp(e->d_name, "file-", 5) == 0)
            sum += atoi(e->d_name + strlen(e->d_name) - 3);
    }
    closedir(d);
    printf("many: %d entries, numbers sum to %d\n", count, sum);
    fd = open(at("many"), O_RDONLY | O_DIRECTORY);
    printf("many with 200-byte getdents64 buffers: %d entries\n", count_raw(fd, 200, &calls));
    close(fd);

    /* Removing what was made: unlinkat on files, AT_REMOVEDIR on the directory. */
    fd = open(at("many"), O_RDONLY | O_DIRECTORY);
    for (int i = 0; i < 300; i++) {
        snprintf(path, sizeof path, "file-with-a-longish-name-%03d", i);
        if (unlinkat(fd, path, 0) != 0)
            printf("unlinkat %s failed\n", path);
    }
    close(fd);
    CHECK(rmdir(at("many")));
    CHECK(unlinkat(AT_FDCWD, at("list"), AT_REMOVEDIR));
    return 0;
}

static void show_mode(const char *what, const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0)
        printf("%s: lstat -1 %s\n", what, errname(errno));
    else
        printf("%s: mode %o size %lld nlink %ld\n", what, (unsigned)st.st_mode,
               (long long)st.st_size, (long)st.st_nlink);
}

static int cmd_files(void) {
    umask(022);
    int fd = CHECK(open(at("one"), O_WRONLY | O_CREAT | O_EXCL, 0666));
    CHECK(write(fd, "hello, world\n", 13));
    CHECK(fcntl(fd, F_GETFD));
    CHECK(close(fd));
    CHECK(open(at("one"), O_WRONLY | O_CREAT | O_EXCL, 0666));
    show_mode("one", at("one"));

    CHECK(rename(at("one"), at("two")));
    CHECK(access(at("one"), F_OK));
    CHECK(access(at("two"), R_OK | W_OK));
    CHECK(access(at("missing/two"), F_OK));
    CHECK(access(at("two/x"), F_OK));
    CHECK(faccessat(AT_FDCWD, at("two"), R_OK, AT_EACCESS));
    CHECK(syscall(NR_faccessat2, AT_FDCWD, at("two"), R_OK, AT_SYMLINK_NOFOLLOW));
    CHECK(link(at("two"), at("three")));
    show_mode("two after link", at("two"));
    CHECK(symlink("two", at("four")));
    char target[64] = {0};
    CHECK(readlink(at("four"), target, sizeof target - 1));
    printf("four -> %s\n", target);
    show_mode("four", at("four"));
    CHECK(chmod(at("two"), 0600));
    show_mode("two after chmod", at("two"));
    fd = open(at("two"), O_RDWR);
    CHECK(fchmod(fd, 0640));
    show_mode("two after fchmod", at("two"));
    CHECK(fchmodat(AT_FDCWD, at("three"), 0604, 0));
    show_mode("three after fchmodat", at("three"));
    CHECK(fchown(fd, -1, -1));
    CHECK(chown(at("two"), getuid(), -1));
    CHECK(lchown(at("four"), -1, getgid()));
    CHECK(fchownat(AT_FDCWD, at("four"), -1, -1, AT_SYMLINK_NOFOLLOW));

    CHECK(ftruncate(fd, 5));
    show_mode("two after ftruncate 5", at("two"));
    CHECK(truncate(at("two"), 100));
    show_mode("two after truncate 100", at("two"));
    CHECK(fsync(fd));
    CHECK(fdatasync(fd));
    CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL));
    CHECK(ftruncate(fd, -1));

    struct timespec times[2] = {{1000000000, 123456789}, {1500000000, 987654321}};
    CHECK(utimensat(AT_FDCWD, at("two"), times, 0));
    struct stat st;
    stat(at("two"), &st);
    printf("times: atime %lld.%09ld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec,
           st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec omit[2] = {{0, UTIME_OMIT}, {7, 0}};
    CHECK(futimens(fd, omit));
    stat(at("two"), &st);
    printf("after UTIME_OMIT: atime %lld mtime %lld\n", (long long)st.st_atim.tv_sec,
           (long long)st.st_mtim.tv_sec);
    struct timeval tv[2] = {{86400, 5}, {172800, 6}};
    CHECK(utimes(at("three"), tv));
    stat(at("three"), &st);
    printf("utimes: atime %lld.%09ld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec,
           st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    CHECK(utimensat(AT_FDCWD, at("three"), now, 0));
    stat(at("three"), &st);
    printf("UTIME_NOW is recent: %s\n", st.st_mtim.tv_sec > 1600000000 ? "yes" : "no");

    /* statx agrees with stat. */
    struct statx_raw sx;
    memset(&sx, 0xAA, sizeof sx);
    CHECK(syscall(NR_statx, AT_FDCWD, at("two"), 0, 0x7ff, &sx));
    stat(at("two"), &st);
    printf("statx mask has basic stats: %s\n", (sx.stx_mask & 0x7ff) == 0x7ff ? "yes" : "no");
    printf("statx agrees with stat: mode %d size %d ino %d nlink %d uid %d mtime %d dev %d "
           "blocks %d\n", sx.stx_mode == st.st_mode, (long long)sx.stx_size == st.st_size,
           sx.stx_ino == st.st_ino, sx.stx_nlink == st.st_nlink, sx.stx_uid == st.st_uid,
           sx.stx_mtime.tv_sec == st.st_mtim.tv_sec && sx.stx_mtime.tv_nsec == st.st_mtim.tv_nsec,
           makedev(sx.stx_dev_major, sx.stx_dev_minor) == st.st_dev,
           (long long)sx.stx_blocks == st.st_blocks);
    CHECK(syscall(NR_statx, fd, "", AT_EMPTY_PATH, 0x7ff, &sx));
    printf("statx of the fd: size %llu\n", (unsigned long long)sx.stx_size);
    CHECK(syscall(NR_statx, AT_FDCWD, at("four"), AT_SYMLINK_NOFOLLOW, 0x7ff, &sx));
    printf("statx of the symlink: is link %d\n", S_ISLNK(sx.stx_mode));
    CHECK(syscall(NR_statx, AT_FDCWD, at("nothing"), 0, 0x7ff, &sx));
    CHECK(fstatat(fd, "", &st, AT_EMPTY_PATH));

    /* statfs and fstatfs describe the same file system the same way. */
    struct statfs a, b;
    CHECK(statfs(dir, &a));
    CHECK(fstatfs(fd, &b));
    printf("statfs: type %lx, same as fstatfs %d, bsize>0 %d, namelen %ld, flags %lx\n",
           (unsigned long)a.f_type, a.f_type == b.f_type && a.f_blocks == b.f_blocks,
           a.f_bsize > 0, (long)a.f_namelen, (unsigned long)a.f_flags);
    CHECK(statfs("/proc", &a));
    printf("statfs /proc: type %lx\n", (unsigned long)a.f_type);
    CHECK(close(fd));

    CHECK(syscall(NR_renameat2, AT_FDCWD, at("three"), AT_FDCWD, at("five"), 0));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    CHECK(renameat(dfd, "five", dfd, "six"));
    CHECK(linkat(dfd, "six", dfd, "seven", 0));
    CHECK(symlinkat("six", dfd, "eight"));
    CHECK(mkdirat(dfd, "nine", 0777));
    show_mode("nine", at("nine"));
    CHECK(openat(dfd, "nine/ten", O_CREAT | O_WRONLY, 0600) >= 0);
    CHECK(rmdir(at("nine")));
    CHECK(unlinkat(dfd, "nine", 0));
    CHECK(unlink(at("nine/ten")));
    CHECK(unlinkat(dfd, "nine", AT_REMOVEDIR));
    CHECK(unlinkat(dfd, "eight", 0));
    CHECK(unlink(at("seven")));
    CHECK(unlink(at("seven")));
    CHECK(mkdir(at("two"), 0755));
    fd = CHECK(creat(at("eleven"), 0600));
    CHECK(write(fd, "abc", 3));
    close(fd);
    show_mode("eleven", at("eleven"));

    /* umask shapes the modes of new files and directories. */
    CHECK(umask(077));
    CHECK(umask(027));
    close(open(at("twelve"), O_CREAT | O_WRONLY, 0666));
    mkdir(at("thirteen"), 0777);
    show_mode("twelve under umask 027", at("twelve"));
    show_mode("thirteen under umask 027", at("thirteen"));
    umask(022);

    /* Descriptors: close-on-exec, dup3, pipe2, memfd. */
    fd = open(at("two"), O_RDONLY | O_CLOEXEC);
    CHECK(fcntl(fd, F_GETFD));
    int copy = CHECK(dup(fd) >= 0 ? 100 : -1);
    (void)copy;
    CHECK(dup3(fd, 50, O_CLOEXEC));
    CHECK(fcntl(50, F_GETFD));
    CHECK(dup3(fd, 51, 0));
    CHECK(fcntl(51, F_GETFD));
    CHECK(dup3(fd, fd, 0));
    CHECK(fcntl(fd, F_GETFL) & O_ACCMODE);
    close(50);
    close(51);
    close(fd);
    fd = CHECK(syscall(NR_memfd_create, "scratch", 0) >= 0);
    int mfd = syscall(NR_memfd_create, "scratch", 0);
    CHECK(write(mfd, "0123456789", 10));
    CHECK(lseek(mfd, 2, SEEK_SET));
    char buf[16] = {0};
    CHECK(read(mfd, buf, 4));
    printf("memfd read back %s\n", buf);
    fstat(mfd, &st);
    printf("memfd size %lld\n", (long long)st.st_size);
    CHECK(lseek(mfd, 0, 7));
    close(mfd);
    return 0;
}

static int cmd_cwd(void) {
    char real[PATH_MAX], cwd[PATH_MAX];
    if (!realpath(dir, real))
        return 2;
    CHECK(chdir(dir));
    printf("getcwd is the directory: %s\n", getcwd(cwd, sizeof cwd) && !strcmp(cwd, real) ? "yes" : "no");
    printf("raw getcwd counts the NUL: %s\n",
           syscall(NR_getcwd, cwd, sizeof cwd) == (long)strlen(real) + 1 ? "yes" : "no");
    CHECK(syscall(NR_getcwd, cwd, 2));
    CHECK(mkdir("sub", 0755));
    CHECK(chdir("sub"));
    getcwd(cwd, sizeof cwd);
    printf("now in: ...%s\n", cwd + strlen(real));
    write_file("relative", "made from sub\n");
    CHECK(chdir(".."));
    CHECK(access("sub/relative", R_OK));
    int fd = open("sub", O_RDONLY | O_DIRECTORY);
    CHECK(fchdir(fd));
    getcwd(cwd, sizeof cwd);
    printf("after fchdir: ...%s\n", cwd + strlen(real));
    CHECK(chdir("no-such-dir"));
    CHECK(chdir("relative"));
    CHECK(fchdir(999));
    CHECK(unlink("relative"));
    CHECK(chdir("/"));
    getcwd(cwd, sizeof cwd);
    printf("root: %s\n", cwd);
    CHECK(unlinkat(fd, "../sub", AT_REMOVEDIR));
    return 0;
}

static void show_poll(const char *what, struct pollfd *fds, int n, int timeout) {
    int r = poll(fds, n, timeout);
    printf("%s: poll = %d", what, r);
    for (int i = 0; i < n; i++)
        printf(" [fd %s revents %#x]", fds[i].fd < 0 ? "-" : "ok", fds[i].revents);
    printf("\n");
}

static int cmd_io(void) {
    int p[2];
    CHECK(pipe(p));
    struct pollfd fds[3] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {-1, POLLIN, 0}};
    show_poll("empty pipe", fds, 3, 0);
    CHECK(write(p[1], "ping", 4));
    show_poll("after write", fds, 3, 0);

    struct timespec ts = {0, 1000000};
    fds[0].revents = 0;
    CHECK(syscall(NR_ppoll, fds, 1, &ts, NULL, 8));
    printf("ppoll revents %#x\n", fds[0].revents);

    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(p[0], &r);
    FD_SET(p[1], &w);
    struct timeval tv = {1, 0};
    CHECK(select(p[1] + 1, &r, &w, NULL, &tv));
    printf("select: read end %d write end %d\n", FD_ISSET(p[0], &r), FD_ISSET(p[1], &w));
    char buf[16] = {0};
    CHECK(read(p[0], buf, sizeof buf));
    printf("read %s\n", buf);
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    tv.tv_sec = 0;
    tv.tv_usec = 2000;
    CHECK(select(p[0] + 1, &r, NULL, NULL, &tv));
    printf("select timed out: read end %d, time left %ld.%06ld\n", FD_ISSET(p[0], &r),
           (long)tv.tv_sec, (long)tv.tv_usec);
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timespec ts0 = {0, 0};
    CHECK(syscall(NR_pselect6, p[0] + 1, &r, NULL, NULL, &ts0, NULL));
    FD_ZERO(&r);
    FD_SET(40, &r);
    CHECK(select(41, &r, NULL, NULL, &tv));

    struct pollfd bad = {40, POLLIN, 0};
    show_poll("closed fd", &bad, 1, 0);
    CHECK(close(p[1]));
    fds[1].fd = -1;
    show_poll("writer closed", fds, 2, 100);
    CHECK(read(p[0], buf, sizeof buf));
    close(p[0]);

    /* Non-blocking and close-on-exec pipes. */
    CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC));
    CHECK(fcntl(p[0], F_GETFD));
    CHECK((fcntl(p[0], F_GETFL) & O_NONBLOCK) != 0);
    CHECK(read(p[0], buf, sizeof buf));
    CHECK(lseek(p[0], 0, SEEK_CUR));
    CHECK(pipe2(p, 0x12345678));

    /* A write to a pipe nobody reads: EPIPE when SIGPIPE is ignored. */
    signal(SIGPIPE, SIG_IGN);
    CHECK(close(p[0]));
    CHECK(write(p[1], "x", 1));
    close(p[1]);

    /* FIONREAD, record locks, flock, sendfile, copy_file_range. */
    CHECK(pipe(p));
    CHECK(write(p[1], "abcdef", 6));
    int waiting = -1;
    CHECK(ioctl(p[0], FIONREAD, &waiting));
    printf("FIONREAD says %d\n", waiting);
    CHECK(read(p[0], buf, 6));
    int f = open(at("data"), O_RDWR | O_CREAT, 0644);
    CHECK(write(f, "0123456789", 10));
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 5};
    CHECK(fcntl(f, F_SETLK, &lock));
    lock.l_type = F_UNLCK;
    CHECK(fcntl(f, F_SETLKW, &lock));
    lock.l_type = 7;
    CHECK(fcntl(f, F_SETLK, &lock));
    CHECK(flock(f, LOCK_EX | LOCK_NB));
    CHECK(flock(f, LOCK_UN));
    CHECK(flock(f, LOCK_SH | LOCK_EX));
    off_t offset = 2;
    CHECK(sendfile(p[1], f, &offset, 4));
    printf("sendfile moved the offset to %ld\n", (long)offset);
    CHECK(lseek(f, 7, SEEK_SET));
    CHECK(sendfile(p[1], f, NULL, 100));
    CHECK(lseek(f, 0, SEEK_CUR));
    memset(buf, 0, sizeof buf);
    CHECK(read(p[0], buf, sizeof buf));
    printf("through the pipe: %s\n", buf);
    int g = open(at("copy"), O_RDWR | O_CREAT, 0644);
    long long in_offset = 1;
    CHECK(syscall(NR_copy_file_range, f, &in_offset, g, NULL, 5, 0));
    printf("copy_file_range moved the offset to %lld\n", in_offset);
    memset(buf, 0, sizeof buf);
    CHECK(pread(g, buf, sizeof buf, 0));
    printf("copied: %s\n", buf);
    close(f);
    close(g);
    close(p[0]);
    close(p[1]);

    /* dup2 onto a listed directory drops its listing. */
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    char dents[4096];
    CHECK(syscall(NR_getdents64, d, dents, sizeof dents) > 0);
    f = open("/proc/self/exe", O_RDONLY);
    CHECK(dup2(f, d));
    CHECK(syscall(NR_getdents64, d, dents, sizeof dents));
    close(f);
    close(d);
    return 0;
}

static int cmd_proc(void) {
    printf("umask: %o then %o\n", (unsigned)umask(022), (unsigned)umask(022));

    struct tms t;
    clock_t ticks = times(&t);
    printf("times: elapsed>0 %d, user>=0 %d, children 0 %d\n", ticks > 0, t.tms_utime >= 0,
           t.tms_cutime == 0 && t.tms_cstime == 0);
    struct rusage ru;
    CHECK(getrusage(RUSAGE_SELF, &ru));
    printf("rusage: maxrss>0 %d, usec<1e6 %d\n", ru.ru_maxrss > 0, ru.ru_utime.tv_usec < 1000000);
    CHECK(getrusage(RUSAGE_CHILDREN, &ru));
    printf("children: user %ld.%06ld\n", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
    CHECK(getrusage(5, &ru));
    struct sysinfo si;
    CHECK(sysinfo(&si));
    printf("sysinfo: uptime>0 %d totalram>freeram %d mem_unit>0 %d procs>0 %d\n", si.uptime > 0,
           si.totalram * (unsigned long long)si.mem_unit > si.freeram, si.mem_unit > 0,
           si.procs > 0);

    printf("getpgrp == getpgid(0): %d\n", getpgrp() == getpgid(0));
    printf("getpgid(getpid()) == getpgrp(): %d\n", getpgid(getpid()) == getpgrp());
    printf("getsid(0) == getsid(getpid()): %d\n", getsid(0) == getsid(getpid()));
    CHECK(getpgid(999999999));
    CHECK(setpgid(0, 0));
    printf("now the group leader: %d\n", getpgrp() == getpid());
    /* Alone in its group now: signals to the group reach only itself. */
    signal(SIGUSR2, SIG_IGN);
    CHECK(kill(0, SIGUSR2));
    CHECK(kill(-getpgrp(), 0));
    CHECK(setsid());
    gid_t groups[256];
    int ngroups = getgroups(0, NULL);
    printf("getgroups agrees: %d\n", getgroups(256, groups) == ngroups);
    if (ngroups > 0)
        CHECK(getgroups(ngroups - 1 > 0 ? ngroups - 1 : 0, groups) < 0 ? -1 : 0);
    uid_t ru_, eu, su;
    getresuid(&ru_, &eu, &su);
    printf("getresuid agrees: %d\n", ru_ == getuid() && eu == geteuid());
    CHECK(wait4(-1, NULL, WNOHANG, NULL));
    CHECK(waitpid(-1, NULL, 0));

    /* Signals to itself whose default is to ignore them, or that it ignores or blocks. */
    CHECK(kill(getpid(), 0));
    CHECK(kill(getpid(), SIGCHLD));
    CHECK(kill(getpid(), SIGWINCH));
    CHECK(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGURG));
    CHECK(syscall(SYS_tkill, syscall(SYS_gettid), 0));
    CHECK(kill(getpid(), 65));
    CHECK(kill(999999999, 0));
    signal(SIGUSR1, SIG_IGN);
    CHECK(raise(SIGUSR1));
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    CHECK(sigprocmask(SIG_BLOCK, &set, NULL));
    CHECK(kill(getpid(), SIGTERM));
    sigpending(&pending);
    printf("SIGTERM pending: %d\n", sigismember(&pending, SIGTERM));
    signal(SIGTERM, SIG_IGN);
    sigpending(&pending);
    printf("after SIG_IGN pending: %d\n", sigismember(&pending, SIGTERM));
    CHECK(sigprocmask(SIG_UNBLOCK, &set, NULL));
    struct sigaction old;
    sigaction(SIGTERM, NULL, &old);
    printf("SIGTERM action is SIG_IGN: %d\n", old.sa_handler == SIG_IGN);
    printf("still running\n");

    /* The alternate signal stack is recorded and reported back. */
    static char altstack[65536];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0}, oss;
    CHECK(sigaltstack(NULL, &oss));
    printf("initial altstack disabled: %d\n", (oss.ss_flags & SS_DISABLE) != 0);
    CHECK(sigaltstack(&ss, NULL));
    CHECK(sigaltstack(NULL, &oss));
    printf("altstack recorded: %d size %zu\n", oss.ss_sp == altstack, oss.ss_size);
    ss.ss_size = 100;
    CHECK(sigaltstack(&ss, NULL));
    ss.ss_flags = 12345;
    CHECK(sigaltstack(&ss, NULL));
    ss.ss_flags = SS_DISABLE;
    CHECK(sigaltstack(&ss, &oss));
    printf("old altstack: %d\n", oss.ss_sp == altstack);

    /* The thread's name: at most 15 bytes are kept. */
    char name[32] = {0};
    CHECK(prctl(PR_SET_NAME, "a-rather-long-thread-name"));
    CHECK(prctl(PR_GET_NAME, name));
    printf("thread name: %s\n", name);
    CHECK(prctl(PR_GET_DUMPABLE));
    CHECK(prctl(12345));

    unsigned cpu = 99999, node = 99999;
    CHECK(syscall(NR_getcpu, &cpu, &node, NULL));
    printf("getcpu: cpu < nprocs %d, node %u\n", cpu < (unsigned)sysconf(_SC_NPROCESSORS_CONF),
           node);
    cpu_set_t mask;
    CHECK(sched_getaffinity(0, sizeof mask, &mask));
    CHECK(sched_setaffinity(0, sizeof mask, &mask));

    struct timespec before, after, delay = {0, 2000000};
    clock_gettime(CLOCK_MONOTONIC, &before);
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &delay, NULL));
    struct timespec until = before;
    until.tv_nsec += 5000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL));
    clock_gettime(CLOCK_MONOTONIC, &after);
    long waited = (after.tv_sec - before.tv_sec) * 1000000000L + after.tv_nsec - before.tv_nsec;
    printf("slept at least 5 ms: %d\n", waited >= 5000000);
    printf("clock_nanosleep on a bad clock: %d\n", clock_nanosleep(12345, 0, &delay, NULL));
    return 0;
}

static int cmd_abort(void) {
    printf("about to abort\n");
    fflush(stdout);
    abort();
}

static int cmd_raise(void) {
    printf("about to raise SIGTERM\n");
    fflush(stdout);
    raise(SIGTERM);
    printf("not reached\n");
    return 0;
}

static int cmd_sigpipe(void) {
    int p[2];
    pipe(p);
    close(p[0]);
    printf("writing to a pipe without readers\n");
    fflush(stdout);
    write(p[1], "x", 1);
    printf("not reached\n");
    return 0;
}

static int cmd_pending_kill(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    kill(getpid(), SIGTERM);
    printf("blocked SIGTERM is pending\n");
    fflush(stdout);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    printf("not reached\n");
    return 0;
}

static int cmd_group_kill(void) {
    setpgid(0, 0); /* so that the group is this process alone */
    printf("sending SIGTERM to the process group\n");
    fflush(stdout);
    kill(0, SIGTERM);
    printf("not reached\n");
    return 0;
}

/* Reads and writes that compiled code makes, often: xlate's C runtime makes them without going
 * back to Python, except those that fail or write to translated code. */
typedef int (*answer_fn)(void);

static int cmd_hot_io(void) {
    int fd = CHECK(open(at("data"), O_RDWR | O_CREAT | O_TRUNC, 0644));
    for (int i = 0; i < 3000; i++) {
        char c = 'a' + i % 26;
        if (write(fd, &c, 1) != 1)
            printf("write %d failed\n", i);
    }
    CHECK(lseek(fd, 0, SEEK_SET));
    char buf[7];
    ssize_t n;
    long total = 0;
    unsigned sum = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t k = 0; k < n; k++)
            sum = sum * 31 + (unsigned char)buf[k];
        total += n;
    }
    printf("read back %ld bytes, sum %08x, last read %zd\n", total, sum, n);

    /* Into memory that is not mapped: EFAULT, each time, and the file position stays. */
    char *gone = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(gone, 4096);
    CHECK(lseek(fd, 0, SEEK_SET));
    int efaults = 0;
    for (int i = 0; i < 200; i++)
        efaults += read(fd, gone, 16) == -1 && errno == EFAULT;
    printf("reads into unmapped memory: %d of 200 EFAULT, position %ld\n", efaults,
           (long)lseek(fd, 0, SEEK_CUR));
    efaults = 0;
    for (int i = 0; i < 200; i++)
        efaults += write(fd, gone, 16) == -1 && errno == EFAULT;
    printf("writes from unmapped memory: %d of 200 EFAULT\n", efaults);

    /* Code that has run, read over from a file: the new code runs. */
    unsigned char *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    static const unsigned char forty_two[] = {0xb8, 42, 0, 0, 0, 0xc3}; /* mov eax, 42; ret */
    static const unsigned char seven[] = {0xb8, 7, 0, 0, 0, 0xc3};
    memcpy(code, forty_two, sizeof forty_two);
    long answers = 0;
    for (int i = 0; i < 2000; i++)
        answers += ((answer_fn)code)();
    CHECK(lseek(fd, 0, SEEK_SET));
    CHECK(write(fd, seven, sizeof seven));
    for (int round = 0; round < 2; round++) {
        CHECK(lseek(fd, 0, SEEK_SET));
        CHECK(read(fd, code, sizeof seven));
        answers += ((answer_fn)code)();
    }
    printf("answers %ld\n", answers);
    CHECK(close(fd));
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2)
        return 2;
    dir = argc > 2 ? argv[2] : ".";
    const char *cmd = argv[1];
    if (!strcmp(cmd, "dirs")) return cmd_dirs();
    if (!strcmp(cmd, "files")) return cmd_files();
    if (!strcmp(cmd, "cwd")) return cmd_cwd();
    if (!strcmp(cmd, "io")) return cmd_io();
    if (!strcmp(cmd, "hot-io")) return cmd_hot_io();
    if (!strcmp(cmd, "proc")) return cmd_proc();
    if (!strcmp(cmd, "abort")) return cmd_abort();
    if (!strcmp(cmd, "raise")) return cmd_raise();
    if (!strcmp(cmd, "sigpipe")) return cmd_sigpipe();
    if (!strcmp(cmd, "pending-kill")) return cmd_pending_kill();
    if (!strcmp(cmd, "group-kill")) return cmd_group_kill();
    return 2;
}
