/* SPDX-License-Identifier: Apache-2.0 */
/* testlib: temporary directories and files for unit tests. */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/xalloc.h"

char *testlib_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    char *tmpl = xasprintf("%s/doppel-test-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpl)) {
        perror("mkdtemp");
        abort();
    }
    return tmpl;
}

void testlib_rmdir(const char *dir)
{
    if (!dir || strncmp(dir, "/", 1) != 0 || !strstr(dir, "doppel-test-"))
        return;
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "testlib: could not remove %s\n", dir);
    free(cmd);
}

char *testlib_write_file(const char *dir, const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        abort();
    }
    fputs(text, f);
    fclose(f);
    return path;
}

char *testlib_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        abort();
    }
    struct buf b;
    buf_init(&b, 1 << 24);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_append(&b, chunk, n) != 0) {
            fprintf(stderr, "testlib: %s is larger than 16 MiB\n", path);
            abort();
        }
    fclose(f);
    return b.data ? buf_steal(&b, NULL) : xstrdup("");
}
