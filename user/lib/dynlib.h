/* SPDX-License-Identifier: MIT */
/*
 * Libraries opened at first use (dlopen), not linked.  Every command pays
 * the dynamic loader for each library the binary links, before main():
 * libmicrohttpd (the metrics endpoint) and libsystemd (sd_notify) bring 15
 * more with them (gnutls, gcrypt, zstd...), which only `run` needs.
 *
 * Their users keep the libraries' headers for types and constants, and
 * call each function through a pointer of the header's own prototype, so
 * a prototype that does not match is a compile error, not a crash:
 *
 *   #define MHD_FNS(X) X(MHD_start_daemon) X(MHD_run)
 *   static struct { MHD_FNS(DYNLIB_PTR) } mhd;
 *   #define MHD_SYM(fn) DYNLIB_SYM(mhd, fn)
 *   static const struct dynlib_sym mhd_syms[] = { MHD_FNS(MHD_SYM) };
 *   static struct dynlib libmhd =
 *           DYNLIB(XNSG_MHD_SONAME, XNSG_MHD_DEB, "--metrics", mhd_syms);
 *   ...
 *   if (dynlib_load(&libmhd))
 *           pr_err("%s", dynlib_error(&libmhd));
 *   mhd.MHD_run(d);
 *
 * The file is the soname of the library the build found and the package
 * the Debian package that holds it (the Makefile derives both), so the
 * error says what to install.  Not thread-safe: load from one thread.
 */
#ifndef XNSG_DYNLIB_H
#define XNSG_DYNLIB_H

#include <stdbool.h>
#include <stddef.h>

struct dynlib_sym {
	const char *name;
	void **fn;
};

struct dynlib {
	const char *file;	/* "libmicrohttpd.so.12": what dlopen() is given */
	const char *package;	/* "libmicrohttpd12"; "" when the build did not know */
	const char *user;	/* what needs it: "--metrics" */
	const struct dynlib_sym *syms;
	size_t nsyms;
	/* the first dynlib_load()'s outcome, kept for the next calls */
	bool tried;
	int err;
	void *handle;
	char msg[512];	/* dynlib_error()'s line */
};

/* A member of a library's table: a pointer of fn's own type, named fn. */
#define DYNLIB_PTR(fn) __typeof__(fn) *fn;
/* The entry that fills table.fn with the symbol fn. */
#define DYNLIB_SYM(table, fn) { #fn, (void **)&(table).fn },
#define DYNLIB(file_, package_, user_, syms_)                                      \
	{ .file = (file_), .package = (package_), .user = (user_), .syms = (syms_), \
	  .nsyms = sizeof(syms_) / sizeof((syms_)[0]) }

/*
 * Open the library and fill every pointer of its table, once: 0, or (on
 * this and every later call) -ELIBACC when it cannot be opened, -ELIBBAD
 * when it lacks a symbol, with nothing filled and nothing printed.
 *
 * Test hook: XNSG_TEST_DLOPEN_FAIL=PREFIX makes a file whose name starts
 * with PREFIX ("libmicrohttpd.so") one that cannot be opened.
 */
int dynlib_load(struct dynlib *l);

/*
 * After a failed dynlib_load(), the one line that says so: "--metrics
 * needs libmicrohttpd.so.12 (Debian package libmicrohttpd12): cannot open
 * shared object file: No such file or directory".
 */
const char *dynlib_error(const struct dynlib *l);

#endif
