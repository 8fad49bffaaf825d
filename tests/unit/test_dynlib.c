// SPDX-License-Identifier: MIT
/*
 * Libraries opened at first use (user/lib/dynlib.h): a library that opens
 * fills every pointer of its table; one that is missing, or lacks a
 * symbol, fills none and says so in one line naming the file once, what
 * needs it and the package; the outcome is kept; the test hook makes a
 * present library missing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dynlib.h"

static struct {
	DYNLIB_PTR(zlibVersion)
	DYNLIB_PTR(crc32)
} z;
#define Z_SYM(fn) DYNLIB_SYM(z, fn)
static const struct dynlib_sym z_syms[] = { Z_SYM(zlibVersion) Z_SYM(crc32) };

/* A symbol zlib does not have, after one it has. */
static void *have, *lacks;
static const struct dynlib_sym bad_syms[] = { { "zlibVersion", &have },
					      { "xnsg_no_such_function", &lacks } };

Test(dynlib, opens_and_fills_every_pointer)
{
	struct dynlib l = DYNLIB("libz.so.1", "zlib1g", "the test", z_syms);

	cr_assert_eq(l.nsyms, 2, "DYNLIB counts the table");
	cr_assert_eq(dynlib_load(&l), 0, "libz.so.1 opens: %s", dynlib_error(&l));
	cr_assert_not_null(z.zlibVersion);
	cr_expect_str_eq(z.zlibVersion(), zlibVersion(), "the pointer is the library's function");
	cr_expect_eq(z.crc32(0, (const Bytef *)"a", 1), crc32(0, (const Bytef *)"a", 1));
	cr_expect_eq(dynlib_load(&l), 0, "a second load is the first's outcome");
	cr_expect_str_eq(dynlib_error(&l), "", "no error after a load");
}

Test(dynlib, a_missing_file_is_one_line)
{
	struct dynlib l = DYNLIB("libxnsg-none.so.7", "libxnsg-none7", "--frobnicate", z_syms);
	const char *msg;

	z.zlibVersion = NULL;
	cr_assert_eq(dynlib_load(&l), -ELIBACC, "a file that does not exist: -ELIBACC");
	msg = dynlib_error(&l);
	cr_expect(!strncmp(msg, "--frobnicate needs libxnsg-none.so.7 (Debian package libxnsg-none7): ",
			   strlen("--frobnicate needs libxnsg-none.so.7 (Debian package libxnsg-none7): ")),
		  "the line names what needs it, the file and the package: %s", msg);
	cr_expect(strstr(msg, "No such file") != NULL, "and says why: %s", msg);
	cr_expect_eq(strstr(strstr(msg, "libxnsg-none.so.7") + 1, "libxnsg-none.so.7"), NULL,
		     "the file is named once: %s", msg);
	cr_expect_null(strchr(msg, '\n'), "one line: %s", msg);
	cr_expect_null(z.zlibVersion, "nothing filled");
	cr_expect_eq(dynlib_load(&l), -ELIBACC, "the outcome is kept");
}

Test(dynlib, a_missing_symbol_fills_nothing)
{
	struct dynlib l = DYNLIB("libz.so.1", "", "the test", bad_syms);
	const char *msg;

	cr_assert_eq(dynlib_load(&l), -ELIBBAD, "a symbol the library lacks: -ELIBBAD");
	msg = dynlib_error(&l);
	cr_expect_str_eq(msg, "the test needs libz.so.1: undefined symbol: xnsg_no_such_function",
			 "without a package, the line names the file and the symbol: %s", msg);
	cr_expect(!have && !lacks, "no pointer filled, not even the symbol found first");
}

Test(dynlib, the_test_hook_makes_a_file_missing)
{
	struct dynlib l = DYNLIB("libz.so.1", "zlib1g", "the test", z_syms);

	setenv("XNSG_TEST_DLOPEN_FAIL", "libz.so", 1);
	cr_expect_eq(dynlib_load(&l), -ELIBACC, "XNSG_TEST_DLOPEN_FAIL=libz.so: libz.so.1 is missing");
	cr_expect(strstr(dynlib_error(&l), "the test needs libz.so.1 (Debian package zlib1g): cannot open") ==
			  dynlib_error(&l),
		  "%s", dynlib_error(&l));
	unsetenv("XNSG_TEST_DLOPEN_FAIL");
}
