/* SPDX-License-Identifier: Apache-2.0 */
/*
 * testlib: helpers shared by the cmocka unit tests. Include after <cmocka.h>.
 *   assert_close(a, b, tol)  doubles within an absolute tolerance (cmocka's float assert
 *                            casts to float)
 *   assert_rel_close(a, b, rel)  doubles within a relative tolerance
 *   testlib_tmpdir()         a fresh directory under $TMPDIR, removed by testlib_rmdir()
 */
#ifndef DOPPEL_TESTLIB_H
#define DOPPEL_TESTLIB_H

#include <math.h>
#include <stdio.h>

#define assert_close(a, b, tol)                                                                    \
    do {                                                                                           \
        double a_ = (a), b_ = (b), t_ = (tol);                                                     \
        if (!(fabs(a_ - b_) <= t_)) {                                                              \
            print_error("%s = %.12g, expected %.12g (tolerance %g)\n", #a, a_, b_, t_);            \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#define assert_rel_close(a, b, rel)                                                                \
    do {                                                                                           \
        double a_ = (a), b_ = (b), r_ = (rel);                                                     \
        if (!(fabs(a_ - b_) <= r_ * fabs(b_))) {                                                   \
            print_error("%s = %.12g, expected %.12g (relative tolerance %g)\n", #a, a_, b_, r_);   \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* Returns a new directory (caller frees the string); aborts on failure. */
char *testlib_tmpdir(void);
/* Removes a directory tree made by testlib_tmpdir. */
void testlib_rmdir(const char *dir);
/* The whole file as a NUL-terminated string (caller frees); aborts when unreadable. */
char *testlib_read_file(const char *path);
/* Writes text to dir/name and returns the path (caller frees). */
char *testlib_write_file(const char *dir, const char *name, const char *text);

#endif
