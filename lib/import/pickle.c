/* The restricted unpickler (pickle.h). Opcode facts are those of Python's
 * pickle protocol (see pickletools): each opcode is one byte followed by
 * its fixed-size little-endian argument or, for the text opcodes of
 * protocols 0-1, a line ending in '\n'. The machine has a stack, a stack of
 * marks (MARK opens a new frame of the stack) and a memo (index -> value). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "pickle.h"

#define MAX_MARKS 1000        /* nesting of MARK ... TUPLE/LIST/DICT */
#define MAX_STACK (1u << 22)  /* values on the stack */
#define MAX_CONTAINER (1u << 26)

struct pk_machine {
	const unsigned char *p, *start, *end;
	const struct pk_hooks *hooks;
	struct pk_value **all;       /* every value made, for freeing */
	size_t nall, capall;
	struct pk_value **stack;
	size_t sp, capstack;
	size_t marks[MAX_MARKS];
	int nmarks;
	struct pk_value **memo;
	size_t capmemo, nmemo;       /* nmemo: distinct indices set (MEMOIZE uses it) */
	unsigned char *memo_set;
	size_t memo_limit;
	struct pk_value none, btrue, bfalse;
};

static const char *op_name(int op)
{
	static const struct {
		int op;
		const char *name;
	} names[] = {
		{'I', "INT"}, {'J', "BININT"}, {'K', "BININT1"}, {'M', "BININT2"}, {'L', "LONG"},
		{0x8a, "LONG1"}, {0x8b, "LONG4"}, {'S', "STRING"}, {'T', "BINSTRING"},
		{'U', "SHORT_BINSTRING"}, {'B', "BINBYTES"}, {'C', "SHORT_BINBYTES"}, {0x8e, "BINBYTES8"},
		{0x96, "BYTEARRAY8"}, {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"}, {'N', "NONE"},
		{0x88, "NEWTRUE"}, {0x89, "NEWFALSE"}, {'V', "UNICODE"}, {0x8c, "SHORT_BINUNICODE"},
		{'X', "BINUNICODE"}, {0x8d, "BINUNICODE8"}, {'F', "FLOAT"}, {'G', "BINFLOAT"},
		{']', "EMPTY_LIST"}, {'a', "APPEND"}, {'e', "APPENDS"}, {'l', "LIST"}, {')', "EMPTY_TUPLE"},
		{'t', "TUPLE"}, {0x85, "TUPLE1"}, {0x86, "TUPLE2"}, {0x87, "TUPLE3"}, {'}', "EMPTY_DICT"},
		{'d', "DICT"}, {'s', "SETITEM"}, {'u', "SETITEMS"}, {0x8f, "EMPTY_SET"}, {0x90, "ADDITEMS"},
		{0x91, "FROZENSET"}, {'0', "POP"}, {'2', "DUP"}, {'(', "MARK"}, {'1', "POP_MARK"},
		{'g', "GET"}, {'h', "BINGET"}, {'j', "LONG_BINGET"}, {'p', "PUT"}, {'q', "BINPUT"},
		{'r', "LONG_BINPUT"}, {0x94, "MEMOIZE"}, {0x82, "EXT1"}, {0x83, "EXT2"}, {0x84, "EXT4"},
		{'c', "GLOBAL"}, {0x93, "STACK_GLOBAL"}, {'R', "REDUCE"}, {'b', "BUILD"}, {'i', "INST"},
		{'o', "OBJ"}, {0x81, "NEWOBJ"}, {0x92, "NEWOBJ_EX"}, {0x80, "PROTO"}, {'.', "STOP"},
		{0x95, "FRAME"}, {'P', "PERSID"}, {'Q', "BINPERSID"},
	};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (names[i].op == op)
			return names[i].name;
	return NULL;
}

const char *pk_kind_name(enum pk_kind k)
{
	static const char *n[] = {"None", "bool", "int", "float", "str", "bytes", "tuple",
				  "list", "dict", "set", "global", "object"};
	return (unsigned)k < sizeof n / sizeof *n ? n[k] : "?";
}

struct pk_value *pk_new(struct pk_machine *m, enum pk_kind kind)
{
	struct pk_value *v;
	if (m->nall == m->capall) {
		size_t cap = m->capall ? 2 * m->capall : 256;
		struct pk_value **a = realloc(m->all, cap * sizeof *a);
		if (!a) {
			tf_seterr("out of memory");
			return NULL;
		}
		m->all = a, m->capall = cap;
	}
	if (!(v = calloc(1, sizeof *v))) {
		tf_seterr("out of memory");
		return NULL;
	}
	v->kind = kind;
	m->all[m->nall++] = v;
	return v;
}

size_t pk_used(const struct pk_machine *m)
{
	return m ? (size_t)(m->p - m->start) : 0;
}

void pk_free(struct pk_machine *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nall; i++) {
		free(m->all[i]->s);
		free(m->all[i]->items);
		free(m->all[i]->ext);
		free(m->all[i]);
	}
	free(m->all);
	free(m->stack);
	free(m->memo);
	free(m->memo_set);
	free(m);
}

/* Makes room for need item pointers in a container. */
static int grow(struct pk_value *c, size_t need)
{
	if (c->n >= MAX_CONTAINER)
		return tf_seterr("pickle: a %s has more than %u items", pk_kind_name(c->kind), MAX_CONTAINER);
	if (need > c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;
		while (cap < need)
			cap *= 2;
		struct pk_value **a = realloc(c->items, cap * sizeof *a);
		if (!a)
			return tf_seterr("out of memory");
		c->items = a, c->cap = cap;
	}
	return 0;
}

static int seq_add(struct pk_value *c, struct pk_value *v)
{
	if (grow(c, c->n + 1))
		return -1;
	c->items[c->n++] = v;
	return 0;
}

static int dict_set(struct pk_value *d, struct pk_value *k, struct pk_value *v)
{
	if (grow(d, 2 * d->n + 2))
		return -1;
	d->items[2 * d->n] = k;
	d->items[2 * d->n + 1] = v;
	d->n++;
	return 0;
}

struct pk_value *pk_dict_get(const struct pk_value *d, const char *key)
{
	if (!d || d->kind != PK_DICT)
		return NULL;
	for (size_t i = d->n; i-- > 0;) {
		const struct pk_value *k = d->items[2 * i];
		if (k->kind == PK_STR && !strcmp(k->s, key))
			return d->items[2 * i + 1];
	}
	return NULL;
}

/* ---------- the stack ---------- */

static int push(struct pk_machine *m, struct pk_value *v)
{
	if (!v)
		return -1;
	if (m->sp == m->capstack) {
		if (m->sp >= MAX_STACK)
			return tf_seterr("pickle: stack deeper than %u values", MAX_STACK);
		size_t cap = m->capstack ? 2 * m->capstack : 64;
		struct pk_value **s = realloc(m->stack, cap * sizeof *s);
		if (!s)
			return tf_seterr("out of memory");
		m->stack = s, m->capstack = cap;
	}
	m->stack[m->sp++] = v;
	return 0;
}

static size_t frame_base(const struct pk_machine *m)
{
	return m->nmarks ? m->marks[m->nmarks - 1] : 0;
}

static struct pk_value *pop(struct pk_machine *m)
{
	if (m->sp <= frame_base(m)) {
		tf_seterr("pickle: stack underflow at byte %zu", (size_t)(m->p - m->start - 1));
		return NULL;
	}
	return m->stack[--m->sp];
}

static struct pk_value *top(struct pk_machine *m)
{
	if (m->sp <= frame_base(m)) {
		tf_seterr("pickle: empty stack at byte %zu", (size_t)(m->p - m->start - 1));
		return NULL;
	}
	return m->stack[m->sp - 1];
}

/* Pops the values above the last mark and the mark: items at *items, *n. */
static int pop_mark(struct pk_machine *m, struct pk_value ***items, size_t *n)
{
	*items = NULL, *n = 0; /* defined on failure too */
	if (!m->nmarks)
		return tf_seterr("pickle: no MARK at byte %zu", (size_t)(m->p - m->start - 1));
	size_t base = m->marks[--m->nmarks];
	*items = m->stack ? m->stack + base : NULL; /* a MARK before anything was pushed: no stack yet */
	*n = m->sp - base;
	m->sp = base;
	return 0;
}

static struct pk_value *make_seq(struct pk_machine *m, enum pk_kind kind, struct pk_value **items, size_t n)
{
	struct pk_value *v = pk_new(m, kind);
	if (!v)
		return NULL;
	if (n) {
		if (!(v->items = malloc(n * sizeof *v->items))) {
			tf_seterr("out of memory");
			return NULL;
		}
		memcpy(v->items, items, n * sizeof *items);
		v->n = v->cap = n;
	}
	return v;
}

/* ---------- reading arguments ---------- */

static int need(struct pk_machine *m, size_t n)
{
	if ((size_t)(m->end - m->p) < n)
		return tf_seterr("pickle: truncated at byte %zu", (size_t)(m->end - m->start));
	return 0;
}

static uint64_t le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* The bytes up to '\n' (text opcodes); *line is not NUL-terminated. */
static int read_line(struct pk_machine *m, const char **line, size_t *n)
{
	const unsigned char *nl = memchr(m->p, '\n', (size_t)(m->end - m->p));
	*line = NULL, *n = 0; /* defined on failure too */
	if (!nl)
		return tf_seterr("pickle: truncated text argument");
	*line = (const char *)m->p;
	*n = (size_t)(nl - m->p);
	m->p = nl + 1;
	return 0;
}

static struct pk_value *make_str(struct pk_machine *m, enum pk_kind kind, const unsigned char *s, size_t n)
{
	struct pk_value *v = pk_new(m, kind);
	if (!v)
		return NULL;
	if (!(v->s = malloc(n + 1))) {
		tf_seterr("out of memory");
		return NULL;
	}
	memcpy(v->s, s, n);
	v->s[n] = 0;
	v->len = n;
	return v;
}

/* A string-like argument with an n-byte length prefix. */
static struct pk_value *counted(struct pk_machine *m, enum pk_kind kind, int nlen)
{
	if (need(m, (size_t)nlen))
		return NULL;
	uint64_t n = le(m->p, nlen);
	m->p += nlen;
	if (n > (uint64_t)(m->end - m->p)) {
		tf_seterr("pickle: a %llu-byte string runs past the end", (unsigned long long)n);
		return NULL;
	}
	struct pk_value *v = make_str(m, kind, m->p, (size_t)n);
	m->p += n;
	return v;
}

static struct pk_value *make_int(struct pk_machine *m, int64_t i)
{
	struct pk_value *v = pk_new(m, PK_INT);
	if (v)
		v->i = i;
	return v;
}

/* LONG1/LONG4: little-endian two's complement of n bytes. */
static struct pk_value *make_long(struct pk_machine *m, const unsigned char *p, uint64_t n)
{
	struct pk_value *v = pk_new(m, PK_INT);
	if (!v)
		return NULL;
	if (n > 8) {
		/* fits if the extra bytes only extend the sign of byte 7 */
		unsigned char ext = p[7] & 0x80 ? 0xFF : 0;
		for (uint64_t k = 8; k < n; k++)
			if (p[k] != ext)
				v->big = 1;
		n = 8;
	}
	if (n == 0)
		return v;
	uint64_t u = le(p, (int)n);
	if (n < 8 && (p[n - 1] & 0x80))
		u |= ~(uint64_t)0 << (8 * n);
	memcpy(&v->i, &u, sizeof u);
	return v;
}

/* ---------- the memo ---------- */

static int memo_put(struct pk_machine *m, uint64_t idx, struct pk_value *v)
{
	if (!v)
		return -1;
	if (idx >= m->memo_limit)
		return tf_seterr("pickle: memo index %llu is out of range", (unsigned long long)idx);
	if (idx >= m->capmemo) {
		size_t cap = m->capmemo ? m->capmemo : 64;
		while (cap <= idx)
			cap *= 2;
		struct pk_value **a = realloc(m->memo, cap * sizeof *a);
		unsigned char *s = a ? realloc(m->memo_set, cap) : NULL;
		if (a)
			m->memo = a;
		if (!a || !s)
			return tf_seterr("out of memory");
		memset(s + m->capmemo, 0, cap - m->capmemo);
		m->memo_set = s, m->capmemo = cap;
	}
	if (!m->memo_set[idx])
		m->nmemo++;
	m->memo_set[idx] = 1;
	m->memo[idx] = v;
	return 0;
}

static struct pk_value *memo_get(struct pk_machine *m, uint64_t idx)
{
	if (idx >= m->capmemo || !m->memo_set[idx]) {
		tf_seterr("pickle: memo index %llu was never set", (unsigned long long)idx);
		return NULL;
	}
	return m->memo[idx];
}

static int text_index(struct pk_machine *m, uint64_t *idx)
{
	const char *s;
	size_t n;
	if (read_line(m, &s, &n))
		return -1;
	if (n == 0 || n > 18)
		return tf_seterr("pickle: bad memo index");
	*idx = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return tf_seterr("pickle: bad memo index");
		*idx = *idx * 10 + (uint64_t)(s[i] - '0');
	}
	return 0;
}

/* ---------- globals and calls ---------- */

static int is_ident(const char *s, int dots)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || (dots && *s == '.')))
			return 0;
	return 1;
}

static struct pk_value *global(struct pk_machine *m, const char *module, const char *name)
{
	char shown[160];
	snprintf(shown, sizeof shown, "%.70s.%.70s", module, name);
	if (!is_ident(module, 1) || !is_ident(name, 1)) {
		tf_seterr("pickle: malformed global name \"%s\"", shown);
		return NULL;
	}
	int tag = m->hooks->find_class(m->hooks->ctx, module, name);
	if (tag < 0)
		return NULL;
	struct pk_value *v = make_str(m, PK_GLOBAL, (const unsigned char *)shown, strlen(shown));
	if (v)
		v->tag = tag;
	return v;
}

static struct pk_value *call(struct pk_machine *m, struct pk_value *fn, struct pk_value *args, const char *op)
{
	if (!fn || !args)
		return NULL;
	if (fn->kind != PK_GLOBAL) {
		tf_seterr("pickle: %s of a %s, not of an allowed global", op, pk_kind_name(fn->kind));
		return NULL;
	}
	if (args->kind != PK_TUPLE) {
		tf_seterr("pickle: %s of %s with a %s for arguments", op, fn->s, pk_kind_name(args->kind));
		return NULL;
	}
	return m->hooks->call(m->hooks->ctx, m, fn, args);
}

/* ---------- the machine ---------- */

static int run(struct pk_machine *m, struct pk_value **result)
{
	struct pk_value *v, *k, *c, **items;
	size_t n;
	for (;;) {
		if (m->p >= m->end)
			return tf_seterr("pickle: ends without STOP (truncated?)");
		int op = *m->p++;
		switch (op) {
		case 0x80: /* PROTO */
			if (need(m, 1))
				return -1;
			if (*m->p > 5)
				return tf_seterr("pickle protocol %d is not supported", *m->p);
			m->p++;
			break;
		case 0x95: /* FRAME: a length hint */
			if (need(m, 8))
				return -1;
			m->p += 8;
			break;
		case '.': /* STOP */
			if (!(*result = pop(m)))
				return -1;
			return 0;
		case '(': /* MARK */
			if (m->nmarks >= MAX_MARKS)
				return tf_seterr("pickle: nested deeper than %d levels", MAX_MARKS);
			m->marks[m->nmarks++] = m->sp;
			break;
		case '0': /* POP */
			if (m->sp > frame_base(m))
				m->sp--;
			else if (pop_mark(m, &items, &n)) /* pops a mark when the frame is empty */
				return -1;
			break;
		case '1': /* POP_MARK */
			if (pop_mark(m, &items, &n))
				return -1;
			break;
		case '2': /* DUP */
			if (!(v = top(m)) || push(m, v))
				return -1;
			break;
		case 'N':
			if (push(m, &m->none))
				return -1;
			break;
		case 0x88:
			if (push(m, &m->btrue))
				return -1;
			break;
		case 0x89:
			if (push(m, &m->bfalse))
				return -1;
			break;
		case 'J': case 'K': case 'M': { /* BININT, BININT1, BININT2 */
			int nb = op == 'J' ? 4 : op == 'K' ? 1 : 2;
			if (need(m, (size_t)nb))
				return -1;
			int64_t i = op == 'J' ? (int64_t)(int32_t)le(m->p, 4) : (int64_t)le(m->p, nb);
			m->p += nb;
			if (push(m, make_int(m, i)))
				return -1;
			break;
		}
		case 0x8a: case 0x8b: { /* LONG1, LONG4 */
			int nb = op == 0x8a ? 1 : 4;
			if (need(m, (size_t)nb))
				return -1;
			uint64_t len = le(m->p, nb);
			m->p += nb;
			if (len > (uint64_t)(m->end - m->p))
				return tf_seterr("pickle: truncated LONG");
			v = make_long(m, m->p, len);
			m->p += len;
			if (push(m, v))
				return -1;
			break;
		}
		case 'I': case 'L': { /* INT, LONG (text, protocols 0-1) */
			const char *s;
			char buf[32];
			if (read_line(m, &s, &n))
				return -1;
			if (op == 'L' && n && s[n - 1] == 'L')
				n--;
			if (n == 0 || n >= sizeof buf)
				return tf_seterr("pickle: bad %s argument", op_name(op));
			memcpy(buf, s, n);
			buf[n] = 0;
			if (op == 'I' && (!strcmp(buf, "00") || !strcmp(buf, "01"))) {
				if (push(m, buf[1] == '1' ? &m->btrue : &m->bfalse))
					return -1;
				break;
			}
			char *e;
			errno = 0;
			long long i = strtoll(buf, &e, 10);
			if (*e || e == buf || errno)
				return tf_seterr("pickle: bad %s argument \"%s\"", op_name(op), buf);
			if (push(m, make_int(m, i)))
				return -1;
			break;
		}
		case 'G': { /* BINFLOAT: big-endian double */
			if (need(m, 8))
				return -1;
			uint64_t u = 0;
			for (int i = 0; i < 8; i++)
				u = u << 8 | m->p[i];
			m->p += 8;
			if (!(v = pk_new(m, PK_FLOAT)))
				return -1;
			memcpy(&v->f, &u, 8);
			if (push(m, v))
				return -1;
			break;
		}
		case 'F': { /* FLOAT (text) */
			const char *s;
			char buf[64], *e;
			if (read_line(m, &s, &n))
				return -1;
			if (n == 0 || n >= sizeof buf)
				return tf_seterr("pickle: bad FLOAT argument");
			memcpy(buf, s, n);
			buf[n] = 0;
			if (!(v = pk_new(m, PK_FLOAT)))
				return -1;
			v->f = strtod(buf, &e);
			if (*e)
				return tf_seterr("pickle: bad FLOAT argument \"%s\"", buf);
			if (push(m, v))
				return -1;
			break;
		}
		case 'X': /* BINUNICODE */
			if (push(m, counted(m, PK_STR, 4)))
				return -1;
			break;
		case 0x8c: /* SHORT_BINUNICODE */
			if (push(m, counted(m, PK_STR, 1)))
				return -1;
			break;
		case 0x8d: /* BINUNICODE8 */
			if (push(m, counted(m, PK_STR, 8)))
				return -1;
			break;
		case 'B': /* BINBYTES */
			if (push(m, counted(m, PK_BYTES, 4)))
				return -1;
			break;
		case 'C': /* SHORT_BINBYTES */
			if (push(m, counted(m, PK_BYTES, 1)))
				return -1;
			break;
		case 0x8e: case 0x96: /* BINBYTES8, BYTEARRAY8 */
			if (push(m, counted(m, PK_BYTES, 8)))
				return -1;
			break;
		case 'T': /* BINSTRING (python 2 str) */
			if (push(m, counted(m, PK_BYTES, 4)))
				return -1;
			break;
		case 'U': /* SHORT_BINSTRING */
			if (push(m, counted(m, PK_BYTES, 1)))
				return -1;
			break;
		case ')':
			if (push(m, make_seq(m, PK_TUPLE, NULL, 0)))
				return -1;
			break;
		case 0x85: case 0x86: case 0x87: { /* TUPLE1-3 */
			size_t k3 = (size_t)(op - 0x84);
			if (m->sp < frame_base(m) + k3)
				return tf_seterr("pickle: stack underflow in TUPLE%zu", k3);
			m->sp -= k3;
			if (push(m, make_seq(m, PK_TUPLE, m->stack + m->sp, k3)))
				return -1;
			break;
		}
		case 't': case 'l': case 0x91: /* TUPLE, LIST, FROZENSET */
			if (pop_mark(m, &items, &n))
				return -1;
			if (push(m, make_seq(m, op == 't' ? PK_TUPLE : op == 'l' ? PK_LIST : PK_SET, items, n)))
				return -1;
			break;
		case ']':
			if (push(m, pk_new(m, PK_LIST)))
				return -1;
			break;
		case '}':
			if (push(m, pk_new(m, PK_DICT)))
				return -1;
			break;
		case 0x8f:
			if (push(m, pk_new(m, PK_SET)))
				return -1;
			break;
		case 'd': /* DICT */
			if (pop_mark(m, &items, &n))
				return -1;
			if (n % 2)
				return tf_seterr("pickle: DICT with an odd number of items");
			if (!(v = pk_new(m, PK_DICT)))
				return -1;
			for (size_t i = 0; i < n; i += 2)
				if (dict_set(v, items[i], items[i + 1]))
					return -1;
			if (push(m, v))
				return -1;
			break;
		case 'a': /* APPEND */
			if (!(v = pop(m)) || !(c = top(m)))
				return -1;
			if (c->kind != PK_LIST)
				return tf_seterr("pickle: APPEND to a %s", pk_kind_name(c->kind));
			if (seq_add(c, v))
				return -1;
			break;
		case 'e': case 0x90: /* APPENDS, ADDITEMS */
			if (pop_mark(m, &items, &n) || !(c = top(m)))
				return -1;
			if (c->kind != (op == 'e' ? PK_LIST : PK_SET))
				return tf_seterr("pickle: %s to a %s", op_name(op), pk_kind_name(c->kind));
			for (size_t i = 0; i < n; i++)
				if (seq_add(c, items[i]))
					return -1;
			break;
		case 's': /* SETITEM */
			if (!(v = pop(m)) || !(k = pop(m)) || !(c = top(m)))
				return -1;
			if (c->kind != PK_DICT)
				return tf_seterr("pickle: SETITEM on a %s", pk_kind_name(c->kind));
			if (dict_set(c, k, v))
				return -1;
			break;
		case 'u': /* SETITEMS */
			if (pop_mark(m, &items, &n) || !(c = top(m)))
				return -1;
			if (c->kind != PK_DICT)
				return tf_seterr("pickle: SETITEMS on a %s", pk_kind_name(c->kind));
			if (n % 2)
				return tf_seterr("pickle: SETITEMS with an odd number of items");
			for (size_t i = 0; i < n; i += 2)
				if (dict_set(c, items[i], items[i + 1]))
					return -1;
			break;
		case 'q': case 'r': { /* BINPUT, LONG_BINPUT */
			int nb = op == 'q' ? 1 : 4;
			if (need(m, (size_t)nb))
				return -1;
			uint64_t idx = le(m->p, nb);
			m->p += nb;
			if (memo_put(m, idx, top(m)))
				return -1;
			break;
		}
		case 'p': { /* PUT */
			uint64_t idx;
			if (text_index(m, &idx) || memo_put(m, idx, top(m)))
				return -1;
			break;
		}
		case 0x94: /* MEMOIZE */
			if (memo_put(m, m->nmemo, top(m)))
				return -1;
			break;
		case 'h': case 'j': { /* BINGET, LONG_BINGET */
			int nb = op == 'h' ? 1 : 4;
			if (need(m, (size_t)nb))
				return -1;
			uint64_t idx = le(m->p, nb);
			m->p += nb;
			if (push(m, memo_get(m, idx)))
				return -1;
			break;
		}
		case 'g': { /* GET */
			uint64_t idx;
			if (text_index(m, &idx) || push(m, memo_get(m, idx)))
				return -1;
			break;
		}
		case 'c': { /* GLOBAL "module\nname\n" */
			const char *s1, *s2;
			size_t n1, n2;
			char mod[128], name[128];
			if (read_line(m, &s1, &n1) || read_line(m, &s2, &n2))
				return -1;
			if (n1 >= sizeof mod || n2 >= sizeof name)
				return tf_seterr("pickle: global name too long");
			memcpy(mod, s1, n1), mod[n1] = 0;
			memcpy(name, s2, n2), name[n2] = 0;
			if (push(m, global(m, mod, name)))
				return -1;
			break;
		}
		case 0x93: { /* STACK_GLOBAL */
			struct pk_value *nm = pop(m), *mod = nm ? pop(m) : NULL;
			if (!mod)
				return -1;
			if (mod->kind != PK_STR || nm->kind != PK_STR || mod->len >= 128 || nm->len >= 128)
				return tf_seterr("pickle: STACK_GLOBAL needs two short strings");
			if (push(m, global(m, mod->s, nm->s)))
				return -1;
			break;
		}
		case 'R': { /* REDUCE */
			struct pk_value *args = pop(m), *fn = args ? pop(m) : NULL;
			if (!fn || push(m, call(m, fn, args, "REDUCE")))
				return -1;
			break;
		}
		case 0x81: { /* NEWOBJ: cls.__new__(cls, *args) */
			struct pk_value *args = pop(m), *cls = args ? pop(m) : NULL;
			if (!cls || push(m, call(m, cls, args, "NEWOBJ")))
				return -1;
			break;
		}
		case 0x92: { /* NEWOBJ_EX: cls, args, kwargs */
			struct pk_value *kw = pop(m), *args = kw ? pop(m) : NULL, *cls = args ? pop(m) : NULL;
			if (!cls)
				return -1;
			if (kw->kind != PK_DICT || kw->n)
				return tf_seterr("pickle: NEWOBJ_EX with keyword arguments is not supported");
			if (push(m, call(m, cls, args, "NEWOBJ_EX")))
				return -1;
			break;
		}
		case 'b': /* BUILD: sets the state of the object below; inert here */
			if (!(v = pop(m)) || !(c = top(m)))
				return -1;
			if (c->kind != PK_OBJ && c->kind != PK_DICT)
				return tf_seterr("pickle: BUILD on a %s", pk_kind_name(c->kind));
			break;
		case 'Q': { /* BINPERSID */
			struct pk_value *pid = pop(m);
			if (!pid || push(m, m->hooks->persistent_load(m->hooks->ctx, m, pid)))
				return -1;
			break;
		}
		default: {
			const char *name = op_name(op);
			if (name)
				return tf_seterr("pickle opcode %s is not allowed here (byte %zu)", name,
						 (size_t)(m->p - m->start - 1));
			return tf_seterr("pickle: unknown opcode 0x%02x at byte %zu (not a pickle, or damaged)", op,
					 (size_t)(m->p - m->start - 1));
		}
		}
	}
}

int pk_load(struct pk_machine **mp, const void *data, size_t len, const struct pk_hooks *hooks,
	    struct pk_value **result)
{
	struct pk_machine *m = calloc(1, sizeof *m);
	*mp = m;
	*result = NULL;
	if (!m)
		return tf_seterr("out of memory");
	m->start = m->p = data;
	m->end = m->start + len;
	m->hooks = hooks;
	/* every memo store takes at least two bytes of pickle */
	m->memo_limit = len / 2 + 1;
	m->none.kind = PK_NONE;
	m->btrue.kind = m->bfalse.kind = PK_BOOL;
	m->btrue.i = 1;
	return run(m, result);
}
