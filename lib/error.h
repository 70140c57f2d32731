/* Library error reporting: library functions return -1 (or NULL) and leave a
 * one-line message here, like errno + strerror but with the details. Programs
 * print it through their own die(). The buffer is per thread. */
#ifndef TF_ERROR_H
#define TF_ERROR_H

/* Sets the message; always returns -1 so callers can `return tf_seterr(...)`. */
int tf_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prepends context ("reading model: ") to the current message; returns -1. */
int tf_adderr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *tf_strerror(void);

#endif
