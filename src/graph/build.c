/* SPDX-License-Identifier: MIT */
/*
 * build: spec nodes -> tasks and edges. Resolves each node's op and
 * generator, sizes every family (a window or pairs family is sized by the
 * family it reads, so sizes are resolved depth-first with cycle detection),
 * expands `in:` references per member, lays the edges out in CSR form both
 * ways and rejects task-level cycles, printing one.
 */
#include "graph/graph.h"
#include "util/buf.h"
#include "util/strmap.h"
#include "util/text.h"
#include "util/xalloc.h"

#include <ctype.h>
#include <glob.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* `in:` reference kinds: a whole family, a fixed member, or the member at var+offset. */
enum ref_kind { REF_WHOLE, REF_FIXED, REF_VAR };

struct inref {
	int64_t node;
	enum ref_kind kind;
	int64_t k;      /* the member (REF_FIXED) or the offset from the var (REF_VAR) */
	bool optional;  /* written with a trailing '?': a missing member is skipped */
	struct loc loc;
	const char *text;
};

/* Build-time facts about one node, dropped once the graph is laid out. */
struct ninfo {
	int state;            /* sizing: 0 not yet, 1 in progress, 2 done */
	const char **values;  /* foreach values */
	int64_t over, size, step;      /* window */
	int64_t from, count;           /* pairs */
	uint64_t seed;
	int64_t *pair_a, *pair_b;
	int64_t of, split_every;       /* reduce */
	struct loc gen_loc;
	size_t n_refs;
	struct inref *refs;
	bool is_array;          /* an expression node, or a mapping naming an array op */
	int astate;             /* building its array: 0 not yet, 1 in progress, 2 done */
	struct anode *arr;
	struct fnode *frm;      /* a frame expression's frame (arr is NULL then) */
	const struct doc *expr_doc; /* the scalar the expression is read from */
	const char *expr_text;
};

struct builder {
	struct graph *g;
	struct spec *s;
	struct ninfo *info;
	struct strmap names;
	const struct doc *nodes;
	/* edges, before CSR: pairs (user, dep) in input order */
	int64_t *e_user, *e_dep;
	size_t n_e, cap_e;
	struct err *e;
	struct abuild ab;
	struct afam **fams;
	int64_t n_fams;
	size_t n_spec_nodes;
	const struct graph_opts *o;
	struct fbuild fb;
	struct ffam **ffams;
	int64_t n_ffams;
	struct fout *fouts;          /* frame outputs, in the order add_output() meets them */
	size_t n_fouts;
};

static const char *const generic_keys[] = { "foreach", "window", "pairs", "reduce", "split_every",
					    "in", "retries", "timeout" };
#define N_GENERIC (sizeof generic_keys / sizeof generic_keys[0])

static bool is_ident(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-'))
			return false;
	return true;
}

static bool is_generic(const char *k)
{
	for (size_t i = 0; i < N_GENERIC; i++)
		if (!strcmp(k, generic_keys[i]))
			return true;
	return false;
}

/* A scalar's text after ${} substitution; NULL and *e for non-scalars. */
static const char *scalar_text(struct builder *b, const struct doc *d, const char *what)
{
	if (d->kind == DOC_SEQ || d->kind == DOC_MAP) {
		err_at(b->e, d->loc, "%s must be a scalar, not a %s", what, doc_kind_name(d->kind));
		return NULL;
	}
	if (d->kind == DOC_NULL) {
		err_at(b->e, d->loc, "%s is empty", what);
		return NULL;
	}
	return spec_subst(b->s, d, b->e);
}

static int get_int(struct builder *b, const struct doc *d, const char *what, int64_t lo,
		   int64_t *out)
{
	const char *t = scalar_text(b, d, what);
	if (!t)
		return -1;
	int64_t v;
	if (!parse_int(t, &v))
		return err_at(b->e, d->loc, "%s must be an integer, not '%s'", what, t);
	if (v < lo)
		return err_at(b->e, d->loc, "%s must be at least %" PRId64 ", not %" PRId64, what, lo, v);
	*out = v;
	return 0;
}

static int64_t node_index(struct builder *b, const char *name, struct loc loc, const char *ctx)
{
	int64_t idx;
	if (strmap_get(&b->names, name, &idx))
		return idx;
	const char **names = xmalloc(b->g->n_nodes * sizeof *names);
	for (size_t i = 0; i < b->g->n_nodes; i++)
		names[i] = b->g->nodes[i].name;
	const char *dym = did_you_mean(name, names, b->g->n_nodes);
	if (dym)
		err_at(b->e, loc, "%s: no node '%s' (did you mean '%s'?)", ctx, name, dym);
	else
		err_at(b->e, loc, "%s: no node '%s'", ctx, name);
	free(names);
	return -1;
}

static int size_node(struct builder *b, int64_t n);

/* The family size of node @n, resolving what it depends on first. */
static int64_t members_of(struct builder *b, int64_t n, struct loc loc)
{
	struct ninfo *ni = &b->info[n];
	if (ni->state == 1) {
		err_at(b->e, loc, "cycle: '%s' is sized by a family that depends on it",
		       b->g->nodes[n].name);
		return -1;
	}
	if (ni->state == 0 && size_node(b, n) < 0)
		return -1;
	return b->g->nodes[n].n_members;
}

/* The decimal text of @v in the arena; printf costs a third of building a
 * 100,000-member range, this a tenth of it. */
static const char *format_int(struct arena *a, int64_t v)
{
	char tmp[24], *p = tmp + sizeof tmp;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	*--p = '\0';
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	return arena_strndup(a, p, (size_t)(tmp + sizeof tmp - 1 - p));
}

static int expand_foreach(struct builder *b, int64_t n, const struct doc *fe)
{
	struct gnode *gn = &b->g->nodes[n];
	struct ninfo *ni = &b->info[n];
	if (fe->kind != DOC_MAP || fe->n != 1)
		return err_at(b->e, fe->loc,
			      "foreach takes one variable, e.g. {i: \"0..10\"}, {x: [a, b]} or {f: \"data/*.csv\"}");
	gn->var = fe->keys[0];
	if (!is_ident(gn->var) || !strcmp(gn->var, "in"))
		return err_at(b->e, fe->key_locs[0], "invalid foreach variable name '%s'", gn->var);
	const struct doc *v = fe->items[0];
	struct arena *a = &b->g->arena;
	if (v->kind == DOC_SEQ) {
		ni->values = arena_alloc(a, (v->n ? v->n : 1) * sizeof *ni->values);
		for (size_t i = 0; i < v->n; i++) {
			const char *t = scalar_text(b, v->items[i], "a foreach value");
			if (!t)
				return -1;
			ni->values[i] = t;
		}
		gn->n_members = (int64_t)v->n;
		return 0;
	}
	const char *t = scalar_text(b, v, "a foreach range");
	if (!t)
		return -1;
	const char *dots = strstr(t, "..");
	int64_t lo, hi;
	if (dots) {
		char *l = xstrndup(t, (size_t)(dots - t));
		bool ok = parse_int(l, &lo) && parse_int(dots + 2, &hi);
		free(l);
		if (!ok)
			return err_at(b->e, v->loc, "bad range '%s': expected START..END with integers", t);
		if (hi < lo)
			return err_at(b->e, v->loc, "bad range '%s': end is before start", t);
		if (hi - lo > (int64_t)100000000)
			return err_at(b->e, v->loc, "range '%s' is too large", t);
		gn->n_members = hi - lo;
		ni->values = arena_alloc(a, (size_t)(gn->n_members ? gn->n_members : 1) * sizeof *ni->values);
		for (int64_t i = 0; i < gn->n_members; i++)
			ni->values[i] = format_int(a, lo + i);
		return 0;
	}
	if (!strpbrk(t, "*?["))
		return err_at(b->e, v->loc,
			      "foreach value '%s' is neither a range (0..N), a list nor a glob", t);
	glob_t gl;
	int rc = glob(t, 0, NULL, &gl);
	if (rc == GLOB_NOMATCH)
		return err_at(b->e, v->loc, "no file matches '%s'", t);
	if (rc != 0)
		return err_at(b->e, v->loc, "cannot expand '%s'", t);
	gn->n_members = (int64_t)gl.gl_pathc;
	ni->values = arena_alloc(a, gl.gl_pathc * sizeof *ni->values);
	for (size_t i = 0; i < gl.gl_pathc; i++) /* glob sorts, so the order is stable */
		ni->values[i] = arena_strdup(a, gl.gl_pathv[i]);
	globfree(&gl);
	return 0;
}

/*
 * Reads a generator's small option mapping: @out[k] gets the value of
 * @keys[k] (NULL when absent); any other key is an error naming them all.
 */
static int read_options(struct builder *b, const struct doc *m, const char *what,
			const char *const *keys, const struct doc **out, size_t n)
{
	for (size_t k = 0; k < n; k++)
		out[k] = NULL;
	for (size_t i = 0; i < m->n; i++) {
		size_t k = 0;
		while (k < n && strcmp(m->keys[i], keys[k]) != 0)
			k++;
		if (k == n) {
			struct buf list;
			buf_init(&list);
			for (size_t j = 0; j < n; j++)
				buf_printf(&list, "%s%s", j ? ", " : "", keys[j]);
			err_at(b->e, m->key_locs[i], "unknown key '%s' in %s (expected %s)", m->keys[i], what,
			       list.data);
			buf_release(&list);
			return -1;
		}
		out[k] = m->items[i];
	}
	return 0;
}

static int expand_window(struct builder *b, int64_t n, const struct doc *w)
{
	struct gnode *gn = &b->g->nodes[n];
	struct ninfo *ni = &b->info[n];
	if (w->kind != DOC_MAP)
		return err_at(b->e, w->loc, "window takes {over: FAMILY, size: K}");
	static const char *const keys[] = { "over", "size", "step" };
	const struct doc *opt[3];
	if (read_options(b, w, "window", keys, opt, 3) < 0)
		return -1;
	const struct doc *over = opt[0], *size = opt[1], *step = opt[2];
	if (!over || !size)
		return err_at(b->e, w->loc, "window needs 'over' and 'size'");
	const char *name = scalar_text(b, over, "window 'over'");
	if (!name)
		return -1;
	if ((ni->over = node_index(b, name, over->loc, "window")) < 0)
		return -1;
	if (get_int(b, size, "window size", 1, &ni->size) < 0)
		return -1;
	ni->step = 1;
	if (step && get_int(b, step, "window step", 1, &ni->step) < 0)
		return -1;
	int64_t m = members_of(b, ni->over, over->loc);
	if (m < 0)
		return -1;
	gn->n_members = m >= ni->size ? (m - ni->size) / ni->step + 1 : 0;
	return 0;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* A set of int64 for Floyd's sampling: open addressing, -1 is empty. */
static bool set_insert(int64_t *slots, size_t mask, int64_t v)
{
	size_t i = (size_t)((uint64_t)v * 0x9e3779b97f4a7c15ull >> 20) & mask;
	while (slots[i] != -1) {
		if (slots[i] == v)
			return false;
		i = (i + 1) & mask;
	}
	slots[i] = v;
	return true;
}

/*
 * Pairs: a seeded sample of @count distinct pairs (a < b) out of the m(m-1)/2,
 * by Floyd's algorithm over pair indices, then sorted so tasks come in a
 * stable order that reads neighbouring members together.
 */
static int expand_pairs(struct builder *b, int64_t n, const struct doc *p)
{
	struct gnode *gn = &b->g->nodes[n];
	struct ninfo *ni = &b->info[n];
	if (p->kind != DOC_MAP)
		return err_at(b->e, p->loc, "pairs takes {from: FAMILY, count: N|all, seed: S}");
	static const char *const keys[] = { "from", "count", "seed" };
	const struct doc *opt[3];
	if (read_options(b, p, "pairs", keys, opt, 3) < 0)
		return -1;
	const struct doc *from = opt[0], *count = opt[1], *seed = opt[2];
	if (!from || !count)
		return err_at(b->e, p->loc, "pairs needs 'from' and 'count'");
	const char *name = scalar_text(b, from, "pairs 'from'");
	if (!name || (ni->from = node_index(b, name, from->loc, "pairs")) < 0)
		return -1;
	int64_t m = members_of(b, ni->from, from->loc);
	if (m < 0)
		return -1;
	int64_t total = m * (m - 1) / 2;
	const char *ct = scalar_text(b, count, "pairs count");
	if (!ct)
		return -1;
	bool all = !strcmp(ct, "all");
	if (all)
		ni->count = total;
	else if (get_int(b, count, "pairs count", 0, &ni->count) < 0)
		return -1;
	if (ni->count > total)
		return err_at(b->e, count->loc, "pairs count %" PRId64 " is more than the %" PRId64
			      " pairs of '%s' (%" PRId64 " members)", ni->count, total, name, m);
	int64_t sd = 0;
	if (seed && get_int(b, seed, "pairs seed", INT64_MIN, &sd) < 0)
		return -1;
	ni->seed = (uint64_t)sd;

	int64_t *idx = xmalloc((size_t)(ni->count ? ni->count : 1) * sizeof *idx);
	if (all) {
		for (int64_t i = 0; i < total; i++)
			idx[i] = i;
	} else {
		size_t cap = 16;
		while (cap < (size_t)ni->count * 2)
			cap *= 2;
		int64_t *slots = xmalloc(cap * sizeof *slots);
		memset(slots, 0xff, cap * sizeof *slots);
		uint64_t st = ni->seed;
		int64_t k = 0;
		for (int64_t j = total - ni->count; j < total; j++) {
			uint64_t r = splitmix64(&st);
			int64_t t = (int64_t)(((unsigned __int128)r * (uint64_t)(j + 1)) >> 64);
			if (set_insert(slots, cap - 1, t))
				idx[k++] = t;
			else {
				set_insert(slots, cap - 1, j);
				idx[k++] = j;
			}
		}
		free(slots);
		qsort(idx, (size_t)ni->count, sizeof *idx, cmp_i64);
	}
	ni->pair_a = arena_alloc(&b->g->arena, (size_t)(ni->count ? ni->count : 1) * sizeof(int64_t));
	ni->pair_b = arena_alloc(&b->g->arena, (size_t)(ni->count ? ni->count : 1) * sizeof(int64_t));
	int64_t a = 0, row_start = 0; /* pairs (a, *) have indices [row_start, row_start + m-1-a) */
	for (int64_t i = 0; i < ni->count; i++) {
		while (idx[i] >= row_start + (m - 1 - a)) {
			row_start += m - 1 - a;
			a++;
		}
		ni->pair_a[i] = a;
		ni->pair_b[i] = a + 1 + (idx[i] - row_start);
	}
	free(idx);
	gn->n_members = ni->count;
	return 0;
}

static int expand_reduce(struct builder *b, int64_t n, const struct doc *r, const struct doc *def)
{
	struct gnode *gn = &b->g->nodes[n];
	struct ninfo *ni = &b->info[n];
	const char *name = scalar_text(b, r, "reduce");
	if (!name || (ni->of = node_index(b, name, r->loc, "reduce")) < 0)
		return -1;
	if (members_of(b, ni->of, r->loc) < 0)
		return -1;
	const struct doc *se = doc_get(def, "split_every");
	ni->split_every = 0;
	if (se && get_int(b, se, "split_every", 2, &ni->split_every) < 0)
		return -1;
	gn->n_members = 1;
	return 0;
}

/* Resolves node @n's generator and family size (once). */
static int size_node(struct builder *b, int64_t n)
{
	struct gnode *gn = &b->g->nodes[n];
	struct ninfo *ni = &b->info[n];
	const struct doc *def = gn->def;
	ni->state = 1;
	int rc = 0;
	const struct doc *d;
	gn->n_members = 1;
	if ((d = doc_get(def, "foreach")))
		gn->gen = GEN_FOREACH, ni->gen_loc = d->loc, rc = expand_foreach(b, n, d);
	else if ((d = doc_get(def, "window")))
		gn->gen = GEN_WINDOW, ni->gen_loc = d->loc, rc = expand_window(b, n, d);
	else if ((d = doc_get(def, "pairs")))
		gn->gen = GEN_PAIRS, ni->gen_loc = d->loc, rc = expand_pairs(b, n, d);
	else if ((d = doc_get(def, "reduce")))
		gn->gen = GEN_REDUCE, ni->gen_loc = d->loc, rc = expand_reduce(b, n, d, def);
	ni->state = 2;
	return rc;
}

/* Parses "name", "name[3]", "name[-1]", "name[i]", "name[i-1]", each with an optional '?'. */
static int parse_ref(struct builder *b, int64_t n, const struct doc *d, struct inref *r)
{
	const char *t = scalar_text(b, d, "an input");
	if (!t)
		return -1;
	struct gnode *gn = &b->g->nodes[n];
	size_t len = strlen(t);
	r->loc = d->loc;
	r->text = t;
	r->optional = len > 0 && t[len - 1] == '?';
	if (r->optional)
		len--;
	const char *br = memchr(t, '[', len);
	char *name = xstrndup(t, br ? (size_t)(br - t) : len);
	r->node = node_index(b, name, d->loc, "input");
	free(name);
	if (r->node < 0)
		return -1;
	if (!br) {
		r->kind = REF_WHOLE;
		return 0;
	}
	if (t[len - 1] != ']')
		return err_at(b->e, d->loc, "bad input '%s': expected NAME, NAME[K] or NAME[VAR±K]", t);
	char *ix = xstrndup(br + 1, (size_t)(t + len - 1 - (br + 1)));
	int rc = 0;
	if (parse_int(ix, &r->k)) {
		r->kind = REF_FIXED;
	} else {
		char *p = ix;
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		char sign = *p;
		*p = '\0';
		if (!gn->var || strcmp(ix, gn->var) != 0) {
			if (gn->var)
				rc = err_at(b->e, d->loc, "bad index in '%s': '%s' is not this node's foreach variable '%s'",
					    t, ix, gn->var);
			else
				rc = err_at(b->e, d->loc, "bad index in '%s': '%s' needs a foreach on this node", t, ix);
		} else if (sign == '\0') {
			r->kind = REF_VAR, r->k = 0;
		} else if ((sign == '+' || sign == '-') && parse_int(p + 1, &r->k) && p[1] != '-' && p[1] != '+') {
			r->kind = REF_VAR;
			if (sign == '-')
				r->k = -r->k;
		} else {
			rc = err_at(b->e, d->loc, "bad input '%s': expected NAME, NAME[K] or NAME[VAR±K]", t);
		}
	}
	free(ix);
	return rc;
}

static void add_edge(struct builder *b, int64_t user, int64_t dep)
{
	if (b->n_e == b->cap_e) {
		b->cap_e = b->cap_e ? b->cap_e * 2 : 1024;
		b->e_user = xrealloc(b->e_user, b->cap_e * sizeof *b->e_user);
		b->e_dep = xrealloc(b->e_dep, b->cap_e * sizeof *b->e_dep);
	}
	b->e_user[b->n_e] = user;
	b->e_dep[b->n_e] = dep;
	b->n_e++;
}

struct edge_ctx {
	struct builder *b;
	int64_t user;
};

static void add_edge_cb(void *arg, int64_t dep)
{
	struct edge_ctx *ec = arg;
	add_edge(ec->b, ec->user, dep);
}

/* The family's member @k of node @n as a task id. */
static int64_t member_task(const struct graph *g, int64_t n, int64_t k)
{
	return g->nodes[n].first_member + k;
}

/* Adds the `in:` edges of member @m (position @pos) of node @n. */
static int add_ref_edges(struct builder *b, int64_t n, int64_t task, int64_t pos)
{
	struct ninfo *ni = &b->info[n];
	for (size_t r = 0; r < ni->n_refs; r++) {
		struct inref *ref = &ni->refs[r];
		struct gnode *src = &b->g->nodes[ref->node];
		if (ref->kind == REF_WHOLE) {
			for (int64_t k = 0; k < src->n_members; k++)
				add_edge(b, task, member_task(b->g, ref->node, k));
			continue;
		}
		int64_t k = ref->kind == REF_FIXED ? ref->k : pos + ref->k;
		if (ref->kind == REF_FIXED && k < 0)
			k += src->n_members; /* name[-1] is the last, as in Python */
		if (k < 0 || k >= src->n_members) {
			if (ref->optional)
				continue;
			return err_at(b->e, ref->loc, "'%s' is out of range: '%s' has %" PRId64
				      " member%s (index %" PRId64 ")", ref->text, src->name, src->n_members,
				      src->n_members == 1 ? "" : "s", k);
		}
		add_edge(b, task, member_task(b->g, ref->node, k));
	}
	return 0;
}

/* ---- array (expression) nodes ---- */

/* A YAML value as the Python literal an expression would spell it with. */
static int put_literal(struct builder *b, const struct doc *d, struct buf *out)
{
	switch (d->kind) {
	case DOC_NULL:
		buf_puts(out, "None");
		return 0;
	case DOC_BOOL:
		buf_puts(out, d->b ? "True" : "False");
		return 0;
	case DOC_INT:
	case DOC_FLOAT: {
		const char *t = spec_subst(b->s, d, b->e);
		if (!t)
			return -1;
		buf_puts(out, t);
		return 0;
	}
	case DOC_STR: {
		const char *t = spec_subst(b->s, d, b->e);
		if (!t)
			return -1;
		buf_putc(out, '"');
		for (; *t; t++) {
			if (*t == '"' || *t == '\\')
				buf_putc(out, '\\');
			buf_putc(out, *t);
		}
		buf_putc(out, '"');
		return 0;
	}
	case DOC_SEQ:
		buf_putc(out, '(');
		for (size_t i = 0; i < d->n; i++) {
			if (put_literal(b, d->items[i], out) < 0)
				return -1;
			buf_puts(out, d->n == 1 ? "," : i + 1 < d->n ? ", " : "");
		}
		buf_putc(out, ')');
		return 0;
	default:
		return err_at(b->e, d->loc, "a mapping cannot be an array op's option");
	}
}

/* Whether node @n is an array: an expression string, or a mapping whose op key is an array op. */
static bool detect_array(struct builder *b, int64_t n)
{
	struct gnode *gn = &b->g->nodes[n];
	struct ninfo *ni = &b->info[n];
	const struct doc *def = gn->def;
	if (def->kind == DOC_STR || def->kind == DOC_INT || def->kind == DOC_FLOAT) {
		ni->is_array = true;
		ni->expr_doc = def;
		return true;
	}
	if (def->kind != DOC_MAP)
		return false;
	for (size_t i = 0; i < def->n; i++) {
		const struct op *op = op_find(def->keys[i]);
		if (!op)
			continue;
		/* load: of a .npy file is an array, unless the node is a family of tasks */
		bool npy = op->afn == AFN_LOAD && def->items[i]->str && strlen(def->items[i]->str) > 4 &&
			   !strcmp(def->items[i]->str + strlen(def->items[i]->str) - 4, ".npy") &&
			   !doc_get(def, "foreach") && !doc_get(def, "in");
		if ((op->flags & OP_ARRAY) || (npy && def->n >= 1)) {
			ni->is_array = true;
			return true;
		}
	}
	return false;
}

/* The expression text of an array node; a mapping {op: first, option: value} becomes op(first, option=value). */
static const char *array_text(struct builder *b, int64_t n)
{
	struct gnode *gn = &b->g->nodes[n];
	struct ninfo *ni = &b->info[n];
	if (ni->expr_doc)
		return spec_subst(b->s, ni->expr_doc, b->e);
	const struct doc *def = gn->def;
	size_t k = 0;
	while (k < def->n && !op_find(def->keys[k]))
		k++;
	const struct op *op = op_find(def->keys[k]);
	struct buf t;
	buf_init(&t);
	buf_printf(&t, "%s(", op->name);
	const struct doc *first = def->items[k];
	if (op->afn == AFN_LOAD || first->kind != DOC_STR) {
		if (put_literal(b, first, &t) < 0)
			goto fail;
	} else {
		const char *x = spec_subst(b->s, first, b->e);
		if (!x)
			goto fail;
		buf_printf(&t, "(%s)", x);
	}
	for (size_t i = 0; i < def->n; i++) {
		if (i == k)
			continue;
		buf_printf(&t, ", %s=", def->keys[i]);
		if (put_literal(b, def->items[i], &t) < 0)
			goto fail;
	}
	buf_putc(&t, ')');
	/* Errors inside the synthesized text point at the mapping's op key. */
	struct doc *fake = arena_alloc(&b->g->arena, sizeof *fake);
	fake->kind = DOC_STR;
	fake->loc = def->key_locs[k];
	fake->multiline = true;
	fake->str = arena_strdup(&b->g->arena, t.data);
	ni->expr_doc = fake;
	buf_release(&t);
	return fake->str;
fail:
	buf_release(&t);
	return NULL;
}

static int build_array(struct builder *b, int64_t n);

static struct anode *lookup_array(void *arg, const char *name, struct loc loc)
{
	struct builder *b = arg;
	int64_t idx;
	if (!strmap_get(&b->names, name, &idx))
		return NULL;
	struct ninfo *ni = &b->info[idx];
	if (!ni->is_array) {
		err_at(b->e, loc, "node '%s' is not an array (it is a '%s' task): use it through in: instead", name,
		       b->g->nodes[idx].op ? b->g->nodes[idx].op->name : "?");
		return NULL;
	}
	if (ni->astate == 1) {
		err_at(b->e, loc, "cycle: node '%s' uses itself through '%s'", b->g->nodes[b->ab.owner].name, name);
		return NULL;
	}
	if (ni->astate == 0) {
		uint32_t saved = b->ab.owner, fsaved = b->fb.owner;
		int rc = build_array(b, idx);
		b->ab.owner = saved;
		b->fb.owner = fsaved;
		if (rc < 0)
			return NULL;
	}
	if (!ni->arr) {
		err_at(b->e, loc, "node '%s' is a frame, not an array (%s.to_array() is one)", name, name);
		return NULL;
	}
	ni->arr->n_users++;
	return ni->arr;
}

/* The frame layer's view of node names: 1 and *out for a frame node (built first), 0 for anything else. */
static int lookup_frame(void *arg, const char *name, struct loc loc, struct fnode **out)
{
	struct builder *b = arg;
	int64_t idx;
	if (!strmap_get(&b->names, name, &idx) || !b->info[idx].is_array)
		return 0;
	struct ninfo *ni = &b->info[idx];
	if (ni->astate == 1) {
		if (!loc.line)
			loc = b->g->nodes[b->fb.owner].loc;
		return err_at(b->e, loc, "cycle: node '%s' uses itself through '%s'", b->g->nodes[b->fb.owner].name,
			      name);
	}
	if (ni->astate == 0) {
		uint32_t saved = b->ab.owner, fsaved = b->fb.owner;
		int rc = build_array(b, idx);
		b->ab.owner = saved;
		b->fb.owner = fsaved;
		if (rc < 0)
			return -1;
	}
	if (!ni->frm)
		return 0;
	*out = ni->frm;
	return 1;
}

/* The array layer's callback for x.to_array(): the frame layer builds x, with the node being built as owner. */
static const struct frame_array *to_array_cb(void *arg, const struct doc *d, const struct expr *x, uint32_t call_off)
{
	struct builder *b = arg;
	return frame_to_array(&b->fb, d, x, call_off);
}

static int build_array(struct builder *b, int64_t n)
{
	struct ninfo *ni = &b->info[n];
	ni->astate = 1;
	b->ab.owner = (uint32_t)n;
	const char *text = array_text(b, n);
	if (!text)
		return -1;
	ni->expr_text = text;
	/* A frame expression (read_csv, or a frame node named) goes to the frame layer. */
	b->fb.owner = (uint32_t)n;
	struct err quiet;
	err_init(&quiet);
	struct expr *x = expr_parse(&b->g->arena, text, strlen(text), NULL, NULL, &quiet);
	int is_frame = x ? frame_detect(&b->fb, x) : 0;
	if (is_frame < 0)
		return -1;
	if (is_frame) {
		ni->frm = frame_from_expr(&b->fb, ni->expr_doc, text);
		if (!ni->frm)
			return -1;
		b->g->nodes[n].frame = ni->frm;
		b->g->nodes[n].gen = GEN_FRAME;
		b->g->nodes[n].op = &op_frame_task;
		ni->astate = 2;
		return 0;
	}
	ni->arr = array_from_expr(&b->ab, ni->expr_doc, text);
	if (!ni->arr)
		return -1;
	b->g->nodes[n].array = ni->arr;
	b->g->nodes[n].gen = GEN_ARRAY;
	b->g->nodes[n].op = &op_array_chunk;
	ni->astate = 2;
	return 0;
}

/* The table format of a frame output to @path: the global choice, else the extension's. */
static enum table_format frame_format(const struct builder *b, const char *path)
{
	if (b->o->out_format >= 0)
		return (enum table_format)b->o->out_format;
	size_t n = strlen(path);
	if (n > 4 && (!strcmp(path + n - 4, ".tsv") || !strcmp(path + n - 4, ".tab")))
		return TF_TSV;
	if ((n > 6 && !strcmp(path + n - 6, ".jsonl")) || (n > 7 && !strcmp(path + n - 7, ".ndjson")) ||
	    (n > 5 && !strcmp(path + n - 5, ".json")))
		return TF_JSONL;
	return TF_CSV;
}

static void add_fout(struct builder *b, int64_t idx, const char *path)
{
	if (idx < 0 || !b->info[idx].frm)
		return;
	b->fouts = xrealloc(b->fouts, (b->n_fouts + 1) * sizeof *b->fouts);
	b->fouts[b->n_fouts++] = (struct fout){ b->info[idx].frm, frame_format(b, path) };
}

static int64_t output_node(struct builder *b, const char *key);

/* Frames into families: one writer per output, plus the aggregates, sorts and heads they need. */
/* Room for @hidden more gnodes (and their infos) after the spec's own. */
static void grow_nodes(struct builder *b, size_t hidden)
{
	struct graph *g = b->g;
	if (!hidden)
		return;
	struct gnode *nodes = arena_alloc(&g->arena, (g->n_nodes + hidden) * sizeof *nodes);
	memcpy(nodes, g->nodes, g->n_nodes * sizeof *nodes);
	g->nodes = nodes;
	struct ninfo *info = xcalloc(g->n_nodes + hidden, sizeof *info);
	memcpy(info, b->info, g->n_nodes * sizeof *info);
	free(b->info);
	b->info = info;
}

/* A gnode for a family that is not its spec node's own value ("by.groupby1", "x.matmul2"), in the room
 * grow_nodes() made. */
static struct gnode *hidden_node(struct builder *b, uint32_t owner, const char *label, int ordinal, struct loc loc,
				 enum gen_kind gen, const struct op *op)
{
	struct graph *g = b->g;
	struct gnode *gn = &g->nodes[g->n_nodes++];
	memset(gn, 0, sizeof *gn);
	gn->name = arena_printf(&g->arena, "%s.%s%d", g->nodes[owner].name, label, ordinal);
	gn->loc = loc;
	gn->def = g->nodes[owner].def;
	gn->gen = gen;
	gn->op = op;
	b->info[gn - g->nodes].is_array = true;
	return gn;
}

static int lower_frames(struct builder *b)
{
	struct graph *g = b->g;
	const struct doc *outs = doc_get(b->s->root, "outputs");
	if (outs && outs->kind == DOC_MAP)
		for (size_t i = 0; i < outs->n; i++)
			if (outs->items[i]->kind == DOC_STR || outs->items[i]->kind == DOC_INT)
				add_fout(b, output_node(b, outs->keys[i]), outs->items[i]->str ? outs->items[i]->str : "");
	for (size_t i = 0; i < b->o->n_overrides; i++) {
		const char *eq = strchr(b->o->o_overrides[i], '=');
		if (!eq)
			continue;
		char *key = xstrndup(b->o->o_overrides[i], (size_t)(eq - b->o->o_overrides[i]));
		add_fout(b, output_node(b, key), eq + 1);
		free(key);
	}
	/* a frame node nobody reads or writes is what the spec is for: it goes to stdout when asked for */
	for (size_t n = 0; n < b->n_spec_nodes; n++) {
		struct fnode *f = b->info[n].frm;
		if (!f)
			continue;
		bool listed = false;
		for (size_t k = 0; k < b->n_fouts; k++)
			listed |= b->fouts[k].f == f;
		if (!listed) {
			b->fouts = xrealloc(b->fouts, (b->n_fouts + 1) * sizeof *b->fouts);
			b->fouts[b->n_fouts++] = (struct fout){ f, frame_format(b, "-") };
		}
	}
	if (!b->n_fouts && !b->fb.n_arrays)
		return 0;
	b->n_ffams = frame_lower(&b->fb, b->fouts, b->n_fouts, &b->ffams);
	if (b->n_ffams < 0)
		return -1;
	/* The node's own family: its first writer, else the family that computes its frame. */
	int64_t *own = xcalloc(b->n_spec_nodes ? b->n_spec_nodes : 1, sizeof *own);
	for (size_t n = 0; n < b->n_spec_nodes; n++)
		own[n] = -1;
	for (int64_t f = 0; f < b->n_ffams; f++) {
		uint32_t o = ffam_owner(b->ffams[f]);
		if (own[o] < 0 && ffam_node(b->ffams[f]) == b->info[o].frm && ffam_is_text(b->ffams[f]))
			own[o] = f;
	}
	for (int64_t f = 0; f < b->n_ffams; f++) {
		uint32_t o = ffam_owner(b->ffams[f]);
		if (own[o] < 0 && ffam_node(b->ffams[f]) == b->info[o].frm)
			own[o] = f;
	}
	size_t hidden = 0;
	for (int64_t f = 0; f < b->n_ffams; f++)
		hidden += own[ffam_owner(b->ffams[f])] != f;
	grow_nodes(b, hidden);
	int *ordinal = xcalloc(b->n_spec_nodes ? b->n_spec_nodes : 1, sizeof *ordinal);
	for (int64_t f = 0; f < b->n_ffams; f++) {
		struct ffam *fam = b->ffams[f];
		uint32_t o = ffam_owner(fam);
		struct gnode *gn;
		if (own[o] == f) {
			gn = &g->nodes[o];
		} else {
			gn = hidden_node(b, o, ffam_label(fam), ++ordinal[o], ffam_loc(fam), GEN_FRAME, &op_frame_task);
			gn->frame = ffam_node(fam);
		}
		gn->ffam = fam;
		gn->op_data = fam;
		gn->n_members = ffam_n_chunks(fam);
		if (ffam_work_bytes(fam) > g->task_work_max)
			g->task_work_max = ffam_work_bytes(fam);
	}
	free(ordinal);
	free(own);
	return 0;
}

/* The spec node an output key names, or -1. */
static int64_t output_node(struct builder *b, const char *key)
{
	const char *br = strchr(key, '[');
	char *name = xstrndup(key, br ? (size_t)(br - key) : strlen(key));
	int64_t idx = -1;
	strmap_get(&b->names, name, &idx);
	free(name);
	return idx;
}

/* Marks the arrays that outputs write (and arrays nobody reads) for materializing, then lowers. */
static int lower_arrays(struct builder *b, const char *const *o_overrides, size_t n_overrides)
{
	struct graph *g = b->g;
	size_t n_roots = 0;
	struct anode **roots = xmalloc((g->n_nodes ? g->n_nodes : 1) * sizeof *roots);
	const struct doc *outs = doc_get(b->s->root, "outputs");
	if (outs && outs->kind == DOC_MAP)
		for (size_t i = 0; i < outs->n; i++) {
			int64_t idx = output_node(b, outs->keys[i]);
			if (idx >= 0 && b->info[idx].arr)
				b->info[idx].arr->is_output = true;
		}
	for (size_t i = 0; i < n_overrides; i++) {
		const char *eq = strchr(o_overrides[i], '=');
		if (!eq)
			continue;
		char *key = xstrndup(o_overrides[i], (size_t)(eq - o_overrides[i]));
		int64_t idx = output_node(b, key);
		free(key);
		if (idx >= 0 && b->info[idx].arr)
			b->info[idx].arr->is_output = true;
	}
	for (size_t i = 0; i < b->o->n_targets; i++) {
		int64_t idx = strchr(b->o->targets[i], '[') ? -1 : output_node(b, b->o->targets[i]);
		if (idx >= 0 && b->info[idx].arr)
			b->info[idx].arr->is_output = true;
	}
	for (size_t n = 0; n < g->n_nodes; n++) {
		struct anode *a = b->info[n].arr;
		if (!a)
			continue;
		if (a->n_users == 0)
			a->is_output = true; /* a sink: it is what the node is for */
		roots[n_roots++] = a;
	}
	g->n_array_unfused = array_count_unfused(roots, n_roots);
	b->n_fams = array_lower(&b->ab, roots, n_roots, &b->fams);
	/* lowering may have merged a node's array into an identical one */
	for (size_t n = 0, r = 0; n < g->n_nodes; n++)
		if (b->info[n].arr) {
			b->info[n].arr = roots[r++];
			g->nodes[n].array = b->info[n].arr;
		}
	free(roots);
	if (b->n_fams < 0)
		return -1;
	/* One gnode per family: the spec node's own when it is that node's array, else a hidden one. */
	size_t hidden = 0;
	for (int64_t f = 0; f < b->n_fams; f++)
		if (b->info[b->fams[f]->a->owner].arr != b->fams[f]->a)
			hidden++;
	grow_nodes(b, hidden);
	int *ordinal = xcalloc(b->n_spec_nodes ? b->n_spec_nodes : 1, sizeof *ordinal);
	for (int64_t f = 0; f < b->n_fams; f++) {
		struct afam *fam = b->fams[f];
		uint32_t owner = fam->a->owner;
		struct gnode *gn;
		if (b->info[owner].arr == fam->a) {
			gn = &g->nodes[owner];
		} else {
			gn = hidden_node(b, owner, fam->a->label, ++ordinal[owner], fam->a->loc, GEN_ARRAY, &op_array_chunk);
			gn->array = fam->a;
		}
		gn->fam = fam;
		if (fam->work_bytes > g->task_work_max)
			g->task_work_max = fam->work_bytes;
		gn->op_data = fam;
		gn->n_members = fam->n_chunks;
	}
	for (size_t n = 0; n < g->n_nodes; n++)
		if (g->nodes[n].gen == GEN_ARRAY && !g->nodes[n].fam)
			g->nodes[n].n_members = 0; /* fused into its users */
	free(ordinal);
	return 0;
}

/* Validates the keys of node @n, finds its op and lets the op check its value. */
static int check_node(struct builder *b, int64_t n)
{
	struct gnode *gn = &b->g->nodes[n];
	const struct doc *def = gn->def;
	size_t n_ops;
	const char *const *names = op_names(&n_ops);
	const struct doc *op_val = NULL;
	struct loc op_loc = { 0 };
	int gens = 0;
	struct loc gen_loc = { 0 };
	const char *gen_name = NULL;

	for (size_t i = 0; i < def->n; i++) {
		const char *k = def->keys[i];
		const struct op *op = op_find(k);
		if (op) {
			if (gn->op)
				return err_at(b->e, def->key_locs[i], "node '%s' has two ops, '%s' (line %u) and '%s'",
					      gn->name, gn->op->name, op_loc.line, k);
			gn->op = op;
			op_val = def->items[i];
			op_loc = def->key_locs[i];
			continue;
		}
		if (!strcmp(k, "foreach") || !strcmp(k, "window") || !strcmp(k, "pairs") || !strcmp(k, "reduce")) {
			if (gens++)
				return err_at(b->e, def->key_locs[i], "node '%s' has two generators, '%s' (line %u) and '%s'",
					      gn->name, gen_name, gen_loc.line, k);
			gen_name = k;
			gen_loc = def->key_locs[i];
		}
		if (is_generic(k))
			continue;
	}
	if (!gn->op) {
		/* A misspelt op is likelier than a missing one: name it first. */
		for (size_t i = 0; i < def->n; i++) {
			const char *k = def->keys[i];
			if (is_generic(k))
				continue;
			const char *cands[64];
			size_t nc = 0;
			for (size_t j = 0; j < N_GENERIC; j++)
				cands[nc++] = generic_keys[j];
			for (size_t j = 0; j < n_ops && nc < 64; j++)
				cands[nc++] = names[j];
			const char *dym = did_you_mean(k, cands, nc);
			if (dym)
				return err_at(b->e, def->key_locs[i], "unknown key '%s' in node '%s' (did you mean '%s'?)",
					      k, gn->name, dym);
		}
		if (doc_get(def, "reduce") || doc_get(def, "in")) {
			gn->op = op_find("concat"); /* a reduce with no run concatenates its inputs */
			op_val = NULL;
		} else {
			struct buf list;
			buf_init(&list);
			size_t n_ops_all;
			const struct op *ops = op_table_get(&n_ops_all);
			for (size_t i = 0; i < n_ops_all; i++)
				if (ops[i].run)
					buf_printf(&list, "%s%s", list.len ? ", " : "", ops[i].name);
			err_at(b->e, gn->loc, "node '%s' has no op (one of: %s)", gn->name, list.data);
			buf_release(&list);
			return -1;
		}
	}
	/* Every other key must be a generic option or one of the op's own. */
	for (size_t i = 0; i < def->n; i++) {
		const char *k = def->keys[i];
		if (is_generic(k) || !strcmp(k, gn->op->name))
			continue;
		bool ok = false;
		for (const struct op_param *p = gn->op->params; p && p->name; p++)
			if (!strcmp(p->name, k))
				ok = true;
		if (ok)
			continue;
		const char *cands[64];
		size_t nc = 0;
		for (size_t j = 0; j < N_GENERIC && nc < 64; j++)
			cands[nc++] = generic_keys[j];
		for (size_t j = 0; j < n_ops && nc < 64; j++)
			cands[nc++] = names[j];
		for (const struct op_param *p = gn->op->params; p && p->name && nc < 64; p++)
			cands[nc++] = p->name;
		const char *dym = did_you_mean(k, cands, nc);
		if (dym)
			return err_at(b->e, def->key_locs[i], "unknown key '%s' in node '%s' (did you mean '%s'?)",
				      k, gn->name, dym);
		return err_at(b->e, def->key_locs[i], "unknown key '%s' in node '%s'", k, gn->name);
	}
	const struct doc *d;
	if ((d = doc_get(def, "split_every")) && !doc_get(def, "reduce"))
		return err_at(b->e, doc_key_loc(def, "split_every"), "'split_every' needs 'reduce'");
	if ((d = doc_get(def, "retries"))) {
		int64_t r;
		if (get_int(b, d, "retries", 0, &r) < 0)
			return -1;
		gn->retries = (int)(r > 1000 ? 1000 : r);
	}
	if ((d = doc_get(def, "timeout"))) {
		const char *t = scalar_text(b, d, "timeout");
		if (!t)
			return -1;
		if (!parse_duration(t, &gn->timeout) || gn->timeout <= 0)
			return err_at(b->e, d->loc, "bad timeout '%s': expected a duration like 30s, 500ms, 2m", t);
	}
	if (gn->op->check) {
		struct op_build ob = { &b->g->arena, b->s };
		void *data = NULL;
		if (gn->op->check(&ob, def, op_val, &data, b->e) < 0)
			return -1;
		gn->op_data = data;
	}
	return 0;
}

/* Number of tasks of a reduce over @m inputs with fan-in @k (0: one step). */
static int64_t reduce_tasks(int64_t m, int64_t k)
{
	int64_t total = 1;
	if (k < 2)
		return 1;
	while (m > k) {
		m = (m + k - 1) / k;
		total += m;
	}
	return total;
}

static int lay_out_tasks(struct builder *b)
{
	struct graph *g = b->g;
	int64_t total = 0;
	for (size_t n = 0; n < g->n_nodes; n++) {
		struct gnode *gn = &g->nodes[n];
		struct ninfo *ni = &b->info[n];
		gn->first_task = total;
		if (gn->gen == GEN_FRAME) {
			gn->n_tasks = gn->ffam ? ffam_n_tasks(gn->ffam) : 0;
			gn->first_member = total + gn->n_tasks - (gn->ffam ? ffam_n_chunks(gn->ffam) : 0);
			if (gn->ffam)
				ffam_set_first_task(gn->ffam, total);
			total += gn->n_tasks;
			continue;
		}
		if (gn->gen == GEN_ARRAY) {
			struct afam *fam = (struct afam *)gn->fam;
			gn->n_tasks = fam ? fam->n_tasks : 0;
			gn->first_member = fam ? afam_chunk_task(fam, 0) - fam->first_task + total : total;
			if (fam)
				fam->first_task = total;
			total += gn->n_tasks;
			continue;
		}
		if (gn->gen == GEN_REDUCE) {
			int64_t m = g->nodes[ni->of].n_members;
			gn->n_tasks = reduce_tasks(m, ni->split_every);
			gn->first_member = total + gn->n_tasks - 1; /* the final step */
		} else {
			gn->n_tasks = gn->n_members;
			gn->first_member = total;
		}
		total += gn->n_tasks;
	}
	/* A node whose array was merged into another node's identical one names
	 * that node's tasks: its outputs and targets resolve there. */
	for (size_t n = 0; n < g->n_nodes; n++) {
		struct gnode *gn = &g->nodes[n];
		if (gn->gen != GEN_ARRAY || gn->fam || !gn->array || !gn->array->fam)
			continue;
		gn->first_member = afam_chunk_task(gn->array->fam, 0);
		gn->n_members = gn->array->fam->n_chunks;
	}
	g->n_tasks = total;
	g->tasks = arena_alloc(&g->arena, (size_t)(total ? total : 1) * sizeof *g->tasks);
	for (size_t n = 0; n < g->n_nodes; n++) {
		struct gnode *gn = &g->nodes[n];
		struct ninfo *ni = &b->info[n];
		for (int64_t i = 0; i < gn->n_tasks; i++) {
			struct task *t = &g->tasks[gn->first_task + i];
			t->node = (uint32_t)n;
			t->member = i;
			if (gn->gen == GEN_FOREACH)
				t->var_value = ni->values[i];
			if (gn->gen == GEN_ARRAY) {
				int64_t m;
				t->level = afam_task_level(gn->fam, i, &m);
			}
			if (gn->gen == GEN_FRAME) {
				int64_t m;
				t->level = ffam_task_level(gn->ffam, i, &m);
			}
		}
		if (gn->gen == GEN_ARRAY)
			g->n_array_tasks += gn->n_tasks;
	}
	return 0;
}

static int make_edges(struct builder *b)
{
	struct graph *g = b->g;
	for (size_t n = 0; n < g->n_nodes; n++) {
		struct gnode *gn = &g->nodes[n];
		struct ninfo *ni = &b->info[n];
		switch (gn->gen) {
		case GEN_NONE:
		case GEN_FOREACH:
			for (int64_t i = 0; i < gn->n_tasks; i++)
				if (add_ref_edges(b, (int64_t)n, gn->first_task + i, i) < 0)
					return -1;
			break;
		case GEN_WINDOW:
			for (int64_t i = 0; i < gn->n_tasks; i++) {
				for (int64_t k = 0; k < ni->size; k++)
					add_edge(b, gn->first_task + i, member_task(g, ni->over, i * ni->step + k));
				if (add_ref_edges(b, (int64_t)n, gn->first_task + i, i) < 0)
					return -1;
			}
			break;
		case GEN_PAIRS:
			for (int64_t i = 0; i < gn->n_tasks; i++) {
				add_edge(b, gn->first_task + i, member_task(g, ni->from, ni->pair_a[i]));
				add_edge(b, gn->first_task + i, member_task(g, ni->from, ni->pair_b[i]));
				if (add_ref_edges(b, (int64_t)n, gn->first_task + i, i) < 0)
					return -1;
			}
			break;
		case GEN_ARRAY:
			for (int64_t i = 0; i < gn->n_tasks; i++) {
				struct edge_ctx ec = { b, gn->first_task + i };
				afam_task_deps(gn->fam, i, add_edge_cb, &ec);
			}
			break;
		case GEN_FRAME:
			for (int64_t i = 0; i < gn->n_tasks; i++) {
				struct edge_ctx ec = { b, gn->first_task + i };
				ffam_task_deps(gn->ffam, i, add_edge_cb, &ec);
			}
			break;
		case GEN_REDUCE: {
			/* Level by level: groups of split_every, until one step takes the rest. */
			int64_t m = g->nodes[ni->of].n_members;
			int64_t k = ni->split_every >= 2 ? ni->split_every : (m > 0 ? m : 1);
			int64_t t = gn->first_task, level = 1;
			int64_t src_first = member_task(g, ni->of, 0), src_n = m;
			bool src_is_family = true;
			while (src_n > k) {
				int64_t groups = (src_n + k - 1) / k;
				for (int64_t j = 0; j < groups; j++) {
					g->tasks[t + j].level = (int32_t)level;
					g->tasks[t + j].member = j;
					for (int64_t x = j * k; x < src_n && x < (j + 1) * k; x++)
						add_edge(b, t + j, src_first + x);
					if (add_ref_edges(b, (int64_t)n, t + j, j) < 0)
						return -1;
				}
				src_first = t;
				src_n = groups;
				src_is_family = false;
				t += groups;
				level++;
			}
			(void)src_is_family;
			g->tasks[t].level = 0;
			g->tasks[t].member = 0;
			for (int64_t x = 0; x < src_n; x++)
				add_edge(b, t, src_first + x);
			if (add_ref_edges(b, (int64_t)n, t, 0) < 0)
				return -1;
			break;
		}
		}
	}
	/* CSR, deps in input order: a stable counting sort by user. */
	int64_t nt = g->n_tasks;
	g->n_edges = (int64_t)b->n_e;
	g->dep_off = arena_alloc(&g->arena, (size_t)(nt + 1) * sizeof(int64_t));
	g->use_off = arena_alloc(&g->arena, (size_t)(nt + 1) * sizeof(int64_t));
	g->deps = arena_alloc(&g->arena, (b->n_e ? b->n_e : 1) * sizeof(int64_t));
	g->users = arena_alloc(&g->arena, (b->n_e ? b->n_e : 1) * sizeof(int64_t));
	for (size_t i = 0; i < b->n_e; i++) {
		g->dep_off[b->e_user[i] + 1]++;
		g->use_off[b->e_dep[i] + 1]++;
	}
	for (int64_t t = 0; t < nt; t++) {
		g->dep_off[t + 1] += g->dep_off[t];
		g->use_off[t + 1] += g->use_off[t];
	}
	int64_t *fill = xcalloc((size_t)nt + 1, sizeof *fill);
	for (size_t i = 0; i < b->n_e; i++) {
		int64_t u = b->e_user[i];
		g->deps[g->dep_off[u] + fill[u]++] = b->e_dep[i];
	}
	memset(fill, 0, ((size_t)nt + 1) * sizeof *fill);
	/* Users in ascending id: walk users in id order (edges are grouped by user already). */
	for (size_t i = 0; i < b->n_e; i++) {
		int64_t d = b->e_dep[i];
		g->users[g->use_off[d] + fill[d]++] = b->e_user[i];
	}
	free(fill);
	return 0;
}

/* Kahn's algorithm; on a cycle, walks it from a leftover task and prints it. */
static int check_cycles(struct builder *b)
{
	struct graph *g = b->g;
	int64_t nt = g->n_tasks;
	int64_t *indeg = xmalloc((size_t)(nt ? nt : 1) * sizeof *indeg);
	int64_t *queue = xmalloc((size_t)(nt ? nt : 1) * sizeof *queue);
	int64_t head = 0, tail = 0;
	for (int64_t t = 0; t < nt; t++) {
		indeg[t] = g->dep_off[t + 1] - g->dep_off[t];
		if (!indeg[t])
			queue[tail++] = t;
	}
	while (head < tail) {
		int64_t t = queue[head++];
		for (int64_t i = g->use_off[t]; i < g->use_off[t + 1]; i++)
			if (--indeg[g->users[i]] == 0)
				queue[tail++] = g->users[i];
	}
	int rc = 0;
	if (tail < nt) {
		/* Every leftover task has a leftover dep: follow deps until one repeats. */
		int64_t start = -1;
		for (int64_t t = 0; t < nt && start < 0; t++)
			if (indeg[t] > 0)
				start = t;
		int64_t *seen = xmalloc((size_t)nt * sizeof *seen);
		memset(seen, 0xff, (size_t)nt * sizeof *seen);
		int64_t *path = xmalloc((size_t)nt * sizeof *path);
		int64_t len = 0, t = start;
		while (seen[t] < 0) {
			seen[t] = len;
			path[len++] = t;
			int64_t next = -1;
			for (int64_t i = g->dep_off[t]; i < g->dep_off[t + 1]; i++)
				if (indeg[g->deps[i]] > 0) {
					next = g->deps[i];
					break;
				}
			t = next;
		}
		/* The cycle is path[seen[t]..len), each reading the next; print it
		 * in data-flow order from the task whose node is reported. */
		struct buf msg;
		buf_init(&msg);
		char name[128];
		graph_task_name(g, t, name, sizeof name);
		buf_puts(&msg, name);
		for (int64_t i = len - 1; i >= seen[t]; i--) {
			graph_task_name(g, path[i], name, sizeof name);
			buf_printf(&msg, " -> %s", name);
		}
		rc = err_at(b->e, g->nodes[g->tasks[t].node].loc, "cycle: %s", msg.data);
		buf_release(&msg);
		free(seen);
		free(path);
	}
	free(indeg);
	free(queue);
	return rc;
}

/* Parses "name" or "name[k]" into a range of tasks. */
static int resolve_target(const struct graph *g, const char *text, int64_t *first, int64_t *n,
			  const char **node_name)
{
	const char *br = strchr(text, '[');
	char *name = xstrndup(text, br ? (size_t)(br - text) : strlen(text));
	int64_t idx = graph_find_node(g, name);
	free(name);
	if (idx < 0)
		return -1;
	const struct gnode *gn = &g->nodes[idx];
	*node_name = gn->name;
	if (!br) {
		*first = gn->first_member;
		*n = gn->n_members;
		return 0;
	}
	size_t l = strlen(br);
	if (l < 3 || br[l - 1] != ']')
		return -2;
	char *ix = xstrndup(br + 1, l - 2);
	int64_t k;
	bool ok = parse_int(ix, &k);
	free(ix);
	if (!ok)
		return -2;
	if (k < 0)
		k += gn->n_members;
	if (k < 0 || k >= gn->n_members)
		return -3;
	*first = gn->first_member + k;
	*n = 1;
	return 0;
}

int graph_resolve_target(const struct graph *g, const char *text, int64_t *first, int64_t *n,
			 const char **node_name)
{
	return resolve_target(g, text, first, n, node_name);
}

static int add_output(struct builder *b, const char *key, const char *path, struct loc kloc,
		      struct loc vloc, size_t *cap)
{
	struct graph *g = b->g;
	struct goutput o = { 0 };
	int rc = resolve_target(g, key, &o.task_first, &o.n_tasks, &o.node_name);
	if (rc == -1) {
		const char *br = strchr(key, '[');
		char *name = xstrndup(key, br ? (size_t)(br - key) : strlen(key));
		node_index(b, name, kloc, "output");
		free(name);
		return -1;
	}
	if (rc == -2)
		return err_at(b->e, kloc, "bad output name '%s': expected NAME or NAME[K]", key);
	if (rc == -3)
		return err_at(b->e, kloc, "output '%s' is out of range", key);
	if (!*path)
		return err_at(b->e, vloc, "output '%s' has an empty path", key);
	int64_t idx = graph_find_node(g, o.node_name);
	const struct gnode *ogn = idx >= 0 ? &g->nodes[idx] : NULL;
	if (ogn && ogn->gen == GEN_ARRAY && ogn->array) {
		size_t pl = strlen(path);
		o.array = ogn->array;
		if (!strcmp(path, "-"))
			o.format = OUT_ARRAY_TEXT;
		else if (pl > 4 && !strcmp(path + pl - 4, ".npy"))
			o.format = OUT_ARRAY_NPY;
		else if (pl > 4 && !strcmp(path + pl - 4, ".csv"))
			o.format = OUT_ARRAY_CSV;
		else
			return err_at(b->e, vloc, "an array output goes to \"-\", a .npy or a .csv file, not '%s'", path);
		if ((o.format != OUT_ARRAY_NPY) && ogn->array->ndim > 2)
			return err_at(b->e, vloc, "a %d-d array can only be written to a .npy file", ogn->array->ndim);
		if (o.n_tasks != ogn->n_members)
			return err_at(b->e, kloc, "an array output takes the whole array '%s'", o.node_name);
	}
	if (ogn && ogn->gen == GEN_FRAME && idx < (int64_t)b->n_spec_nodes && b->info[idx].frm) {
		if (strchr(key, '['))
			return err_at(b->e, kloc, "a frame output takes the whole frame '%s'", o.node_name);
		/* the writer family lower_frames() made for this (node, format) */
		enum table_format fmt = frame_format(b, path);
		const struct ffam *w = NULL;
		for (size_t k = 0; k < b->n_fouts && !w; k++)
			if (b->fouts[k].f == b->info[idx].frm && b->fouts[k].fmt == fmt)
				w = b->fb.out_fams[k];
		if (!w)
			return err_at(b->e, vloc, "internal: no writer for output '%s'", key);
		o.task_first = ffam_first_task(w) + ffam_n_tasks(w) - ffam_n_chunks(w);
		o.n_tasks = ffam_n_chunks(w);
		o.format = OUT_BYTES;
	}
	o.path = path;
	o.loc = vloc;
	/* -o NAME=PATH replaces a listed output of the same name. */
	for (size_t i = 0; i < g->n_outputs; i++) {
		if (!strcmp(g->outputs[i].node_name, o.node_name) && g->outputs[i].task_first == o.task_first &&
		    g->outputs[i].n_tasks == o.n_tasks) {
			g->outputs[i].path = o.path;
			g->outputs[i].loc = o.loc;
			return 0;
		}
	}
	XGROW(g->outputs, *cap, g->n_outputs + 1);
	g->outputs[g->n_outputs++] = o;
	return 0;
}

struct graph *graph_build(struct spec *s, const struct graph_opts *o, struct err *e)
{
	static const struct graph_opts defaults = { .out_format = -1 };
	if (!o)
		o = &defaults;
	const char *const *o_overrides = o->o_overrides;
	size_t n_overrides = o->n_overrides;
	uint64_t chunk_bytes = o->chunk_bytes, mem_limit = o->mem_limit;
	struct graph *g = xcalloc(1, sizeof *g);
	arena_init(&g->arena);
	g->spec = s;
	struct builder b = { .g = g, .s = s, .e = e, .o = o };
	const char *spill = o->spill_dir;
	if (!spill || !*spill)
		spill = getenv("TMPDIR");
	b.fb = (struct fbuild){ .arena = &g->arena, .spec = s, .e = e, .spill_dir = spill && *spill ? spill : "/tmp",
				.jobs = o->jobs > 0 ? o->jobs : 1, .mem_limit = mem_limit, .lookup = lookup_frame,
				.lookup_arg = &b };
	strmap_init(&b.names);
	size_t out_cap = 0;
	struct goutput *outs_heap = NULL;

	b.nodes = doc_get(s->root, "nodes");
	if (!b.nodes || b.nodes->kind != DOC_MAP) {
		err_at(e, b.nodes ? b.nodes->loc : (struct loc){ s->path, 1, 1 }, "'nodes' must be a mapping of node names to definitions");
		goto fail;
	}
	g->n_nodes = b.nodes->n;
	g->nodes = arena_alloc(&g->arena, (g->n_nodes ? g->n_nodes : 1) * sizeof *g->nodes);
	b.info = xcalloc(g->n_nodes ? g->n_nodes : 1, sizeof *b.info);
	for (size_t n = 0; n < g->n_nodes; n++) {
		struct gnode *gn = &g->nodes[n];
		gn->name = b.nodes->keys[n];
		gn->loc = b.nodes->key_locs[n];
		gn->def = b.nodes->items[n];
		if (!is_ident(gn->name)) {
			err_at(e, gn->loc, "invalid node name '%s': use letters, digits, '_' and '-'", gn->name);
			goto fail;
		}
		strmap_put(&b.names, gn->name, (int64_t)n);
		if (detect_array(&b, (int64_t)n))
			continue;
		if (gn->def->kind != DOC_MAP) {
			err_at(e, gn->def->loc, "node '%s' must be an expression or a mapping with one op key, not a %s",
			       gn->name, doc_kind_name(gn->def->kind));
			goto fail;
		}
	}
	b.n_spec_nodes = g->n_nodes;
	for (size_t n = 0; n < g->n_nodes; n++)
		if (!b.info[n].is_array && check_node(&b, (int64_t)n) < 0)
			goto fail;
	for (size_t n = 0; n < g->n_nodes; n++)
		if (b.info[n].is_array)
			b.info[n].state = 2;
	for (size_t n = 0; n < g->n_nodes; n++)
		if (b.info[n].state == 0 && size_node(&b, (int64_t)n) < 0)
			goto fail;
	/* Array nodes: expressions into array DAGs, then into families of tasks. */
	b.ab.arena = &g->arena;
	b.ab.spec = s;
	b.ab.e = e;
	b.ab.chunk_bytes = chunk_bytes ? chunk_bytes : (128u << 20);
	b.ab.mem_limit = mem_limit;
	b.ab.jobs = o->jobs > 0 ? o->jobs : 1;
	b.ab.lookup = lookup_array;
	b.ab.lookup_arg = &b;
	b.ab.to_array = to_array_cb;
	for (size_t n = 0; n < g->n_nodes; n++)
		if (b.info[n].is_array && b.info[n].astate == 0 && build_array(&b, (int64_t)n) < 0)
			goto fail;
	if (lower_arrays(&b, o_overrides, n_overrides) < 0 || lower_frames(&b) < 0)
		goto fail;
	/* `in:` references, parsed once per node. */
	for (size_t n = 0; n < g->n_nodes; n++) {
		if (b.info[n].is_array)
			continue;
		const struct doc *in = doc_get(g->nodes[n].def, "in");
		if (!in)
			continue;
		struct ninfo *ni = &b.info[n];
		size_t cnt = in->kind == DOC_SEQ ? in->n : 1;
		ni->refs = xcalloc(cnt ? cnt : 1, sizeof *ni->refs);
		ni->n_refs = cnt;
		for (size_t i = 0; i < cnt; i++) {
			const struct doc *item = in->kind == DOC_SEQ ? in->items[i] : in;
			if (parse_ref(&b, (int64_t)n, item, &ni->refs[i]) < 0)
				goto fail;
		}
	}
	lay_out_tasks(&b);
	if (make_edges(&b) < 0 || check_cycles(&b) < 0)
		goto fail;

	const struct doc *outs = doc_get(s->root, "outputs");
	if (outs && outs->kind == DOC_MAP) {
		for (size_t i = 0; i < outs->n; i++) {
			const char *path = scalar_text(&b, outs->items[i], "an output path");
			if (!path || add_output(&b, outs->keys[i], path, outs->key_locs[i], outs->items[i]->loc, &out_cap) < 0)
				goto fail;
		}
	} else if (outs && outs->kind != DOC_NULL) {
		err_at(e, outs->loc, "'outputs' must be a mapping of node names to paths");
		goto fail;
	}
	for (size_t i = 0; i < n_overrides; i++) {
		const char *eq = strchr(o_overrides[i], '=');
		if (!eq || eq == o_overrides[i] || !eq[1]) {
			err_usage(e, "bad -o '%s': expected NAME=PATH", o_overrides[i]);
			goto fail;
		}
		char *key = arena_strndup(&g->arena, o_overrides[i], (size_t)(eq - o_overrides[i]));
		struct loc none = { "-o", 0, 0 };
		if (add_output(&b, key, arena_strdup(&g->arena, eq + 1), none, none, &out_cap) < 0) {
			e->code = ERR_USAGE;
			goto fail;
		}
	}
	/* A whole array that is a target and that no output writes prints to "-" (as text, so at
	 * most 2-d: plan_make() turns down the rest). */
	for (size_t i = 0; i < o->n_targets; i++) {
		const char *t = o->targets[i];
		int64_t idx = strchr(t, '[') ? -1 : graph_find_node(g, t);
		if (idx < 0 || g->nodes[idx].gen != GEN_ARRAY || !g->nodes[idx].array || g->nodes[idx].array->ndim > 2)
			continue;
		bool written = false;
		for (size_t k = 0; k < g->n_outputs && !written; k++)
			written = !strcmp(g->outputs[k].node_name, g->nodes[idx].name) &&
				  g->outputs[k].n_tasks == g->nodes[idx].n_members;
		struct loc none = { "-o", 0, 0 };
		if (!written && add_output(&b, t, "-", none, none, &out_cap) < 0)
			goto fail;
	}
	/* Outputs were grown with xrealloc: move them into the arena. */
	outs_heap = g->outputs;
	if (g->n_outputs) {
		g->outputs = arena_alloc(&g->arena, g->n_outputs * sizeof *g->outputs);
		memcpy(g->outputs, outs_heap, g->n_outputs * sizeof *g->outputs);
	}
	free(outs_heap);
	outs_heap = NULL;
	if (b.ab.n_notes) {
		g->notes = arena_alloc(&g->arena, b.ab.n_notes * sizeof *g->notes);
		memcpy(g->notes, b.ab.notes, b.ab.n_notes * sizeof *g->notes);
		g->n_notes = b.ab.n_notes;
	}
	free(b.ab.notes);
	g->inputs = b.fb.inputs;
	g->n_inputs = b.fb.n_inputs;
	free(b.fouts);
	free(b.fb.arrays);

	for (size_t n = 0; n < g->n_nodes; n++)
		free(b.info[n].refs);
	free(b.info);
	free(b.e_user);
	free(b.e_dep);
	strmap_release(&b.names);
	return g;
fail:
	free(b.ab.notes);
	free(b.fouts);
	free(b.fb.arrays);
	g->inputs = b.fb.inputs;
	g->n_inputs = b.fb.n_inputs;
	if (b.info)
		for (size_t n = 0; n < g->n_nodes; n++)
			free(b.info[n].refs);
	free(b.info);
	free(b.e_user);
	free(b.e_dep);
	if (g->outputs && g->n_outputs && out_cap)
		free(g->outputs);
	strmap_release(&b.names);
	g->outputs = NULL;
	graph_free(g);
	return NULL;
}

void graph_free(struct graph *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_inputs; i++)
		csv_input_release(g->inputs[i]);
	free(g->inputs);
	arena_release(&g->arena);
	free(g);
}

int64_t graph_find_node(const struct graph *g, const char *name)
{
	for (size_t i = 0; i < g->n_nodes; i++)
		if (!strcmp(g->nodes[i].name, name))
			return (int64_t)i;
	return -1;
}

void graph_task_name(const struct graph *g, int64_t t, char *out, size_t out_len)
{
	const struct task *tk = &g->tasks[t];
	const struct gnode *gn = &g->nodes[tk->node];
	if (gn->gen == GEN_FRAME) {
		int64_t m;
		int level = ffam_task_level(gn->ffam, tk->member, &m);
		if (level < 0)
			snprintf(out, out_len, "%s.map[%" PRId64 "]", gn->name, m);
		else if (level > 0)
			snprintf(out, out_len, "%s.l%d[%" PRId64 "]", gn->name, level, m);
		else if (gn->n_members == 1)
			snprintf(out, out_len, "%s", gn->name);
		else
			snprintf(out, out_len, "%s[%" PRId64 "]", gn->name, m);
	} else if (gn->gen == GEN_ARRAY) {
		int64_t m;
		int level = afam_task_level(gn->fam, tk->member, &m);
		if (level == -2)
			snprintf(out, out_len, "%s.tile[%" PRId64 "]", gn->name, m);
		else if (level < 0)
			snprintf(out, out_len, "%s.map[%" PRId64 "]", gn->name, m);
		else if (level > 0)
			snprintf(out, out_len, "%s.l%d[%" PRId64 "]", gn->name, level, m);
		else if (gn->n_members == 1)
			snprintf(out, out_len, "%s", gn->name);
		else
			snprintf(out, out_len, "%s[%" PRId64 "]", gn->name, m);
	} else if (gn->gen == GEN_REDUCE && tk->level > 0)
		snprintf(out, out_len, "%s.l%d[%" PRId64 "]", gn->name, tk->level, tk->member);
	else if (gn->gen == GEN_NONE || gn->gen == GEN_REDUCE)
		snprintf(out, out_len, "%s", gn->name);
	else
		snprintf(out, out_len, "%s[%" PRId64 "]", gn->name, tk->member);
}
