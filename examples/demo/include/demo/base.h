/* base.h - allocation helpers and small macros shared by the C modules. */
#ifndef DEMO_BASE_H
#define DEMO_BASE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DEMO_COUNTOF(a) (sizeof(a) / sizeof((a)[0]))
#define DEMO_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DEMO_MAX(a, b) ((a) > (b) ? (a) : (b))

/* These never return NULL: running out of memory aborts the demo. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#ifdef __cplusplus
}
#endif

#endif
