/* SPDX-License-Identifier: MIT */
#ifndef XNSG_TESTS_XNSG_BIN_H
#define XNSG_TESTS_XNSG_BIN_H

/*
 * The xnsg binary the tests run: XNSG_BIN when set, else the one built
 * beside this test binary (BUILD/tests/unit-tests -> BUILD/xnsg), so a
 * test never runs a stale build/xnsg of another build directory.
 */
const char *test_xnsg_bin(void);

#endif
