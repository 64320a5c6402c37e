/*
 * under-valgrind.h - UNDER_VALGRIND(): TRUE while the test runs under
 * valgrind, where everything (PBKDF2 most of all) is some 30 times slower
 * and threads run one at a time, so tests stretch their waits.  FALSE
 * where valgrind's header is not installed.
 */
#ifndef PARLEY_TESTS_UNDER_VALGRIND_H
#define PARLEY_TESTS_UNDER_VALGRIND_H

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND() FALSE
#endif

#endif
