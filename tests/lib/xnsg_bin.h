/* SPDX-License-Identifier: MIT */
/* Running the built binary and reading what it wrote: for the unit tests
 * that check the CLI, the docs and the packaging against each other. */
#ifndef XNSG_TESTS_XNSG_BIN_H
#define XNSG_TESTS_XNSG_BIN_H

/*
 * The xnsg binary the tests run: XNSG_BIN when set, else the one built
 * beside this test binary (BUILD/tests/unit-tests -> BUILD/xnsg), so a
 * test never runs a stale build/xnsg of another build directory.
 */
const char *test_xnsg_bin(void);
/* The standard output of shell command cmd (a new string); *status as
 * pclose() returns it.  The test fails if the command cannot be started. */
char *test_run_cmd(const char *cmd, int *status);
/* A file's contents (a new string); the test fails if it cannot be read. */
char *test_slurp(const char *path);

#endif
