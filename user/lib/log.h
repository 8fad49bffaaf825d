/* SPDX-License-Identifier: MIT */
#ifndef XNSG_LOG_H
#define XNSG_LOG_H

/* 0: warnings and errors; 1 (-v): info; 2 (-vv): debug, libbpf debug too. */
extern int xnsg_verbosity;
/* Set by --json: errors go out as {"error": "..."} on stdout as well. */
extern int xnsg_json;

void xnsg_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Called with each error message (without "xnsg: ") once it is printed:
 * the CLI keeps the run's first for {"error": ...} in JSON mode
 * (cli_note_error).  NULL: errors go to stderr only.
 */
extern void (*xnsg_log_error_hook)(const char *msg);

#define LOG_ERR 0
#define LOG_WARN 1
#define LOG_INFO 2
#define LOG_DEBUG 3

/* One line, prefixed "xnsg: ", on stderr. */
#define pr_err(...) xnsg_log(LOG_ERR, __VA_ARGS__)
#define pr_warn(...) xnsg_log(LOG_WARN, __VA_ARGS__)
#define pr_info(...) xnsg_log(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) xnsg_log(LOG_DEBUG, __VA_ARGS__)

#endif
