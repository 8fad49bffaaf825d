// SPDX-License-Identifier: MIT
/* Threads that run beside the caller (thread.h). */
#include <sched.h>

#include "thread.h"

int thread_beside(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int self = sched_getcpu(), err;
	pthread_attr_t attr;
	cpu_set_t cpus;

	err = pthread_attr_init(&attr);
	if (err)
		return err;
	if (self >= 0 && !sched_getaffinity(0, sizeof(cpus), &cpus) && CPU_ISSET(self, &cpus) &&
	    CPU_COUNT(&cpus) > 1) {
		CPU_CLR(self, &cpus);
		pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
	}
	err = pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return err;
}
