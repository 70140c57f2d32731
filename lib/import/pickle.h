/* A restricted unpickler: it builds plain values (None, bool, int, float,
 * str, bytes, tuple, list, dict, set) from the data opcodes of pickle
 * protocols 2 to 5 and NEVER runs anything. Globals are resolved by the
 * caller's find_class hook, which refuses everything it does not know;
 * REDUCE/NEWOBJ and persistent ids are handed to the caller's hooks, which
 * build inert values. Unknown opcodes are refused by name. The stack, the
 * mark nesting and the memo are bounded; memory is O(input size). */
#ifndef TF_IMPORT_PICKLE_H
#define TF_IMPORT_PICKLE_H
#include <stddef.h>
#include <stdint.h>

enum pk_kind {
	PK_NONE, PK_BOOL, PK_INT, PK_FLOAT, PK_STR, PK_BYTES,
	PK_TUPLE, PK_LIST, PK_DICT, PK_SET,
	PK_GLOBAL,  /* a resolved global: tag says which */
	PK_OBJ,     /* an inert object made by a hook: tag and ext say what */
};

struct pk_value {
	enum pk_kind kind;
	int tag;                  /* PK_GLOBAL, PK_OBJ: the hook's code */
	int64_t i;                /* PK_BOOL, PK_INT */
	double f;                 /* PK_FLOAT */
	char *s;                  /* PK_STR, PK_BYTES: NUL-terminated copy; PK_GLOBAL "module.name" */
	size_t len;               /* bytes in s */
	struct pk_value **items;  /* PK_TUPLE, PK_LIST, PK_SET: n items; PK_DICT: n keys then values interleaved */
	size_t n, cap;            /* PK_DICT: n counts pairs */
	void *ext;                /* PK_OBJ: hook data, freed with free() */
	int big;                  /* PK_INT: did not fit in 64 bits (i is meaningless) */
};

struct pk_machine; /* the unpickler (opaque) */

struct pk_hooks {
	void *ctx;
	/* Returns a tag >= 0 for an allowed global, or -1 with a message. */
	int (*find_class)(void *ctx, const char *module, const char *name);
	/* BINPERSID: returns the value for persistent id pid, or NULL + message. */
	struct pk_value *(*persistent_load)(void *ctx, struct pk_machine *m, struct pk_value *pid);
	/* REDUCE and NEWOBJ: fn is a PK_GLOBAL, args a PK_TUPLE. NULL + message. */
	struct pk_value *(*call)(void *ctx, struct pk_machine *m, struct pk_value *fn, struct pk_value *args);
};

/* Runs the pickle in data[len]. On success *result is the value STOP
 * returned, owned by the machine (free with pk_free). -1 + message. */
int pk_load(struct pk_machine **m, const void *data, size_t len, const struct pk_hooks *hooks,
	    struct pk_value **result);
void pk_free(struct pk_machine *m);
/* The bytes of data the last pk_load read, its STOP included: where the
 * next pickle of a file of several begins. */
size_t pk_used(const struct pk_machine *m);

/* Values for hooks to return (owned by the machine). */
struct pk_value *pk_new(struct pk_machine *m, enum pk_kind kind);

/* Helpers. */
const char *pk_kind_name(enum pk_kind k);
/* dict lookup by string key (the last matching pair), or NULL */
struct pk_value *pk_dict_get(const struct pk_value *d, const char *key);

#endif
