/* SPDX-License-Identifier: MIT */
/* Threads that run beside the caller, on another CPU. */
#ifndef XNSG_THREAD_H
#define XNSG_THREAD_H

#include <pthread.h>

/*
 * pthread_create() of fn(arg), the thread kept off the caller's CPU when
 * the caller may run on others: left to the scheduler, a new thread
 * often waits out the rest of its creator's time slice on the creator's
 * CPU (1-2 ms measured on a 2-CPU host, as long as the work it was made
 * to take over).  0 or pthread_create()'s error: then no thread runs.
 */
int thread_beside(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
