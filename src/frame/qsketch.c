/* SPDX-License-Identifier: MIT */
/*
 * qsketch: exact quantiles of small groups, a KLL sketch past 2k values
 * (see qsketch.h for the design and the error bound).
 *
 * Layout: the items of all levels sit in one array, the top level first and
 * level 0 last, so a new value is an append and a compaction of level h only
 * moves the (small) levels below h. Compacting level h writes the surviving
 * half into spare room past the last item, merges it from the back into
 * level h + 1 (which ends where level h starts, so the merge never
 * overwrites what it has yet to read), then closes the gap.
 */
#include "frame/qsketch.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define QSK_MIN_CAP 8
#define QSK_EXACT_BIT (1ull << 63)

static uint64_t splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void insertion_sort(double *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		double x = v[i];
		size_t j = i;
		while (j > 0 && v[j - 1] > x) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

static void sift_down(double *v, size_t i, size_t n)
{
	double x = v[i];
	for (size_t c; (c = 2 * i + 1) < n; i = c) {
		if (c + 1 < n && v[c + 1] > v[c])
			c++;
		if (!(v[c] > x))
			break;
		v[i] = v[c];
	}
	v[i] = x;
}

/* Ascending (the sketch never holds NaN): quicksort with a median of three, insertion sort for short
 * runs, heapsort past 2 log n levels; inline comparisons make it several times qsort's speed here. */
static void sort_doubles(double *v, size_t n)
{
	int depth = 0;
	for (size_t m = n; m > 1; m >>= 1)
		depth += 2;
	while (n > 16) {
		if (depth-- == 0) {
			for (size_t i = n / 2; i-- > 0;)
				sift_down(v, i, n);
			for (size_t i = n - 1; i > 0; i--) {
				double t = v[0];
				v[0] = v[i];
				v[i] = t;
				sift_down(v, 0, i);
			}
			return;
		}
		double a = v[0], b = v[n / 2], c = v[n - 1];
		double p = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
		size_t i = 0, j = n - 1;
		for (;;) {
			while (v[i] < p)
				i++;
			while (v[j] > p)
				j--;
			if (i >= j)
				break;
			double t = v[i];
			v[i++] = v[j];
			v[j--] = t;
		}
		/* [0, j] <= p <= [j + 1, n): sort the smaller side now, loop on the larger */
		size_t left = j + 1;
		if (left < n - left) {
			sort_doubles(v, left);
			v += left;
			n -= left;
		} else {
			sort_doubles(v + left, n - left);
			n = left;
		}
	}
	insertion_sort(v, n);
}

static uint32_t k_of(const struct qsketch *s)
{
	return s->k ? s->k : QSK_K;
}

/* Capacity of the level @depth below the top, under top capacity @k. */
static uint32_t level_cap(uint32_t k, uint32_t depth)
{
	double c = k * pow(2.0 / 3.0, (double)depth);
	return c > QSK_MIN_CAP ? (uint32_t)c : QSK_MIN_CAP;
}

static uint32_t total_cap(uint32_t k, uint32_t n_lv)
{
	uint32_t t = 0;
	for (uint32_t d = 0; d < n_lv; d++)
		t += level_cap(k, d);
	return t;
}

void qsk_release(struct qsketch *s)
{
	free(s->it);
	free(s->len);
	memset(s, 0, sizeof *s);
}

void qsk_seed(struct qsketch *s, uint64_t seed)
{
	if (s->n == 0)
		s->coin = seed;
}

/* The room the item array needs at most: the items the levels may hold, and
 * half again for a compaction's surviving half (at most half of level 0,
 * which is at most the whole). */
static uint32_t cap_bound(const struct qsketch *s)
{
	return s->room + s->room / 2 + 8;
}

void qsk_grow_(struct qsketch *s, uint32_t need)
{
	if (need <= s->cap)
		return;
	uint32_t c = s->cap ? s->cap : 8;
	while (c < need)
		c = c > UINT32_MAX / 2 ? UINT32_MAX : c * 2;
	/* doubling past what the sketch can use would hold memory a budget does not count */
	if (s->room && need <= cap_bound(s) && c > cap_bound(s))
		c = cap_bound(s);
	s->it = xrealloc(s->it, (size_t)c * sizeof *s->it);
	s->cap = c;
}

/* Gives back item room past cap_bound() (after a merge or a smaller k), by a
 * copy: shrinking in place would leave the tail as a fragment that the next
 * merge's larger scratch array cannot use, which raised peak RSS by 10%. */
static void fit_cap(struct qsketch *s)
{
	uint32_t b = cap_bound(s);
	if (b < s->n_it)
		b = s->n_it;
	if (s->room && s->cap > b) {
		double *it = xmalloc((size_t)b * sizeof *it);
		memcpy(it, s->it, (size_t)s->n_it * sizeof *it);
		free(s->it);
		s->it = it;
		s->cap = b;
	}
}

size_t qsk_bound_bytes(uint32_t k)
{
	/* room: 2k exact, or the levels' capacities (3k, plus 8 for each of the few
	 * levels at the minimum capacity); items: room * 1.5 + 8; and the level sizes */
	uint64_t room = 3 * (uint64_t)k + 8 * 16;
	return (size_t)((room + room / 2 + 8) * 8 + QSK_MAX_LEVELS * sizeof(uint32_t));
}

/* Where level @h starts in s->it. */
static uint32_t level_start(const struct qsketch *s, uint32_t h)
{
	uint32_t st = 0;
	for (uint32_t j = h + 1; j < s->n_lv; j++)
		st += s->len[j];
	return st;
}

/* Merges sorted @q[0 .. nq) into the sorted run @p[0 .. np), whose array has room for np + nq. */
static void merge_back(double *p, uint32_t np, const double *q, uint32_t nq)
{
	uint32_t i = np, j = nq, w = np + nq;
	while (j > 0) {
		if (i > 0 && p[i - 1] > q[j - 1])
			p[--w] = p[--i];
		else
			p[--w] = q[--j];
	}
}

/* Compacts level @h (at least 2 items) into level h + 1, adding a level on top when h is the top. */
static void compact(struct qsketch *s, uint32_t h)
{
	if (h + 1 == s->n_lv) {
		s->len[s->n_lv++] = 0; /* the new top level is empty: nothing moves */
	}
	uint32_t st = level_start(s, h), L = s->len[h], a = s->len[h + 1];
	uint32_t odd = L & 1, m = L / 2;
	qsk_grow_(s, s->n_it + m);
	double *lv = s->it + st, *half = s->it + s->n_it;
	if (h == 0)
		sort_doubles(lv, L);
	/* one coin for the level: keep the first or the second item of every pair after the odd one */
	uint32_t o = (uint32_t)(splitmix(&s->coin) >> 63);
	for (uint32_t i = 0; i < m; i++)
		half[i] = lv[odd + 2 * i + o];
	double keep = lv[0];
	merge_back(s->it + st - a, a, half, m);
	if (odd)
		s->it[st + m] = keep;
	uint32_t below = s->n_it - (st + L);
	if (below)
		memmove(s->it + st + m + odd, s->it + st + L, (size_t)below * sizeof *s->it);
	s->len[h + 1] += m;
	s->len[h] = odd;
	s->n_it -= m;
}

void qsk_compress_(struct qsketch *s)
{
	uint32_t k = k_of(s);
	if (!s->len) {
		if (s->n_it <= 2 * k) {
			s->room = 2 * k;
			return;
		}
		s->len = xcalloc(QSK_MAX_LEVELS, sizeof *s->len);
		s->len[0] = s->n_it;
		s->n_lv = 1;
	}
	for (;;) {
		s->room = total_cap(k, s->n_lv);
		if (s->n_it <= s->room)
			return;
		/* the lowest level over its capacity (one is, since the total is) */
		uint32_t h = 0;
		while (h < s->n_lv && s->len[h] <= level_cap(k, s->n_lv - 1 - h))
			h++;
		if (h == s->n_lv || (h + 1 == s->n_lv && s->n_lv == QSK_MAX_LEVELS))
			return; /* cannot happen below 2^60 values */
		compact(s, h);
	}
}

void qsk_set_k(struct qsketch *s, uint32_t k)
{
	if (k < QSK_K_MIN)
		k = QSK_K_MIN;
	if (k >= k_of(s))
		return;
	s->k = k;
	if (s->n_it) {
		qsk_compress_(s);
		fit_cap(s);
	}
}

/* ---- merging ---- */

/* A sketch to merge in: in memory, or in its byte form (unaligned words). */
struct qsrc {
	uint64_t n, coin;
	uint32_t k;                    /* its top capacity */
	double lo, hi;
	uint32_t n_lv;                 /* 1: exact */
	uint32_t len[QSK_MAX_LEVELS];
	const unsigned char *items;    /* top level first, as in memory */
};

static uint64_t ld64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static double ldf(const unsigned char *p)
{
	double v;
	memcpy(&v, p, 8);
	return v;
}

static void merge_src(struct qsketch *s, const struct qsrc *o)
{
	if (o->n == 0)
		return;
	if (o->k < k_of(s))
		s->k = o->k; /* the smaller sketch bounds the merged one */
	uint64_t mix = s->coin ^ (o->coin * 0xd6e8feb86659fd93ull);
	s->coin = splitmix(&mix);
	if (s->n == 0) {
		s->lo = o->lo;
		s->hi = o->hi;
	} else {
		s->lo = o->lo < s->lo ? o->lo : s->lo;
		s->hi = o->hi > s->hi ? o->hi : s->hi;
	}
	uint32_t on = 0;
	for (uint32_t h = 0; h < o->n_lv; h++)
		on += o->len[h];
	if (!s->len && o->n_lv == 1) {
		/* both exact: one level 0 */
		qsk_grow_(s, s->n_it + on);
		memcpy(s->it + s->n_it, o->items, (size_t)on * 8);
		s->n_it += on;
		s->n += o->n;
		qsk_compress_(s);
		fit_cap(s);
		return;
	}
	if (!s->len) {
		s->len = xcalloc(QSK_MAX_LEVELS, sizeof *s->len);
		s->len[0] = s->n_it;
		s->n_lv = 1;
	}
	uint32_t nl = s->n_lv > o->n_lv ? s->n_lv : o->n_lv, total = s->n_it + on;
	double *it = xmalloc((size_t)(total + total / 2 + 8) * sizeof *it);
	double *scratch = xmalloc((size_t)(on ? on : 1) * sizeof *scratch);
	uint32_t len[QSK_MAX_LEVELS] = { 0 }, w = 0, so = 0, oo = 0;
	for (uint32_t h = nl; h-- > 0;) {
		uint32_t a = h < s->n_lv ? s->len[h] : 0, b = h < o->n_lv ? o->len[h] : 0;
		if (a)
			memcpy(it + w, s->it + so, (size_t)a * 8);
		if (b && h == 0) {
			memcpy(it + w + a, o->items + (size_t)oo * 8, (size_t)b * 8);
		} else if (b) {
			memcpy(scratch, o->items + (size_t)oo * 8, (size_t)b * 8);
			merge_back(it + w, a, scratch, b);
		}
		so += a;
		oo += b;
		len[h] = a + b;
		w += a + b;
	}
	free(scratch);
	free(s->it);
	s->it = it;
	s->cap = total + total / 2 + 8;
	s->n_it = w;
	s->n_lv = nl;
	memcpy(s->len, len, sizeof len);
	s->n += o->n;
	qsk_compress_(s);
	fit_cap(s);
}

void qsk_merge(struct qsketch *s, const struct qsketch *o)
{
	struct qsrc src = { .n = o->n, .coin = o->coin, .k = k_of(o), .lo = o->lo, .hi = o->hi, .n_lv = 1,
			    .items = (const unsigned char *)o->it };
	if (o->len) {
		src.n_lv = o->n_lv;
		memcpy(src.len, o->len, (size_t)o->n_lv * sizeof *o->len);
	} else {
		src.len[0] = o->n_it;
	}
	if (o == s) {
		/* merging a sketch into itself: from a copy */
		struct qsketch copy = { 0 };
		qsk_merge(&copy, o);
		qsk_merge(s, &copy);
		qsk_release(&copy);
		return;
	}
	merge_src(s, &src);
}

/* ---- byte form ----
 * exact:  n | QSK_EXACT_BIT, coin, k, the n values
 * sketch: n, coin, lo, hi, n_lv, k, n_lv level sizes (level 0 first), the items (top level first)
 */

static void put_w(struct buf *b, uint64_t v)
{
	buf_append(b, &v, 8);
}

void qsk_serialize(const struct qsketch *s, struct buf *out)
{
	if (!s->len) {
		put_w(out, s->n | QSK_EXACT_BIT);
		put_w(out, s->coin);
		put_w(out, k_of(s));
		buf_append(out, s->it ? (const void *)s->it : "", (size_t)s->n_it * 8);
		return;
	}
	uint64_t lo, hi;
	memcpy(&lo, &s->lo, 8);
	memcpy(&hi, &s->hi, 8);
	put_w(out, s->n);
	put_w(out, s->coin);
	put_w(out, lo);
	put_w(out, hi);
	put_w(out, s->n_lv);
	put_w(out, k_of(s));
	for (uint32_t h = 0; h < s->n_lv; h++)
		put_w(out, s->len[h]);
	buf_append(out, s->it, (size_t)s->n_it * 8);
}

/* Parses the sketch at @p into @o; the bytes used, 0 when malformed. */
static size_t parse(const unsigned char *p, size_t len, struct qsrc *o, int check)
{
	if (len < 24)
		return 0;
	uint64_t w0 = ld64(p);
	memset(o, 0, offsetof(struct qsrc, len));
	o->coin = ld64(p + 8);
	if (w0 & QSK_EXACT_BIT) {
		uint64_t n = w0 & ~QSK_EXACT_BIT, k = ld64(p + 16);
		if (k < QSK_K_MIN || k > QSK_K || n > 2 * k || n > (len - 24) / 8)
			return 0;
		o->n = n;
		o->k = (uint32_t)k;
		o->n_lv = 1;
		o->len[0] = (uint32_t)n;
		o->items = p + 24;
		for (uint64_t i = 0; i < n; i++) {
			double v = ldf(o->items + 8 * i);
			if (check && v != v)
				return 0;
			if (i == 0 || v < o->lo)
				o->lo = v;
			if (i == 0 || v > o->hi)
				o->hi = v;
		}
		return 24 + (size_t)n * 8;
	}
	if (len < 48)
		return 0;
	o->n = w0;
	o->lo = ldf(p + 16);
	o->hi = ldf(p + 24);
	uint64_t nl = ld64(p + 32), k = ld64(p + 40);
	if (nl < 2 || nl > QSK_MAX_LEVELS || nl > (len - 48) / 8 || k < QSK_K_MIN || k > QSK_K)
		return 0;
	o->k = (uint32_t)k;
	size_t pos = 48;
	unsigned __int128 weight = 0;
	uint64_t n_it = 0;
	for (uint64_t h = 0; h < nl; h++, pos += 8) {
		uint64_t l = ld64(p + pos);
		if (l > (1u << 28))
			return 0;
		o->len[h] = (uint32_t)l;
		n_it += l;
		weight += (unsigned __int128)l << h;
	}
	o->n_lv = (uint32_t)nl;
	if (weight != o->n || o->n <= 2 * k || n_it > (len - pos) / 8)
		return 0;
	o->items = p + pos;
	if (check) {
		if (!(o->lo <= o->hi))
			return 0;
		/* levels above 0 sorted, every item within [lo, hi] */
		uint64_t i = 0;
		for (uint64_t h = nl; h-- > 0;) {
			for (uint64_t j = 0; j < o->len[h]; j++, i++) {
				double v = ldf(o->items + 8 * i);
				if (!(v >= o->lo && v <= o->hi))
					return 0;
				if (h > 0 && j > 0 && v < ldf(o->items + 8 * (i - 1)))
					return 0;
			}
		}
	}
	return pos + (size_t)n_it * 8;
}

size_t qsk_check(const unsigned char *p, size_t len)
{
	struct qsrc o;
	return parse(p, len, &o, 1);
}

void qsk_merge_bytes(struct qsketch *s, const unsigned char *p)
{
	struct qsrc o;
	if (parse(p, SIZE_MAX, &o, 0))
		merge_src(s, &o);
}

/* ---- answers ---- */

struct witem {
	double v;
	uint64_t w;
};

static int cmp_witem(const void *pa, const void *pb)
{
	const struct witem *a = pa, *b = pb;
	return (a->v > b->v) - (a->v < b->v);
}

static double lerp(double a, double b, double t)
{
	return a == b ? a : a + (b - a) * t;
}

static double exact_quantile(const double *v, uint64_t n, double q, enum qsk_rule rule)
{
	if (rule == QSK_MEDIAN) {
		if (n & 1)
			return v[n / 2];
		return (v[n / 2 - 1] + v[n / 2]) / 2.0;
	}
	if (rule == QSK_GROUPBY) {
		/* pandas' group_quantile (linear) */
		double idx = q * (double)(n - 1);
		uint64_t i = (uint64_t)idx;
		double frac = fmod(idx, 1.0);
		if (frac == 0.0 || i + 1 >= n)
			return v[i < n ? i : n - 1];
		return v[i] + (v[i + 1] - v[i]) * frac;
	}
	/* numpy's percentile(q * 100), method "linear": its _lerp */
	double qq = q * 100.0 / 100.0, idx = (double)(n - 1) * qq, fl = floor(idx);
	uint64_t i = (uint64_t)fl, j = i + 1 < n ? i + 1 : n - 1;
	double t = idx - fl, a = v[i], b = v[j], d = b - a;
	return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

double qsk_quantile(struct qsketch *s, double q, enum qsk_rule rule)
{
	if (s->n == 0)
		return NAN;
	if (!s->len) {
		sort_doubles(s->it, s->n_it);
		return exact_quantile(s->it, s->n, q, rule);
	}
	if (rule == QSK_MEDIAN)
		q = 0.5;
	double pos = q * (double)(s->n - 1);
	if (pos <= 0)
		return s->lo;
	if (pos >= (double)(s->n - 1))
		return s->hi;
	struct witem *w = xmalloc((size_t)s->n_it * sizeof *w);
	uint32_t k = 0;
	for (uint32_t h = s->n_lv; h-- > 0;)
		for (uint32_t i = 0; i < s->len[h]; i++, k++)
			w[k] = (struct witem){ s->it[k], 1ull << h };
	qsort(w, k, sizeof *w, cmp_witem);
	/* points (mid-rank, value): (0, lo), each item at the middle of the ranks it stands for, (n - 1, hi) */
	double prev_r = 0, prev_v = s->lo, cum = 0, res = s->hi;
	bool found = false;
	for (uint32_t i = 0; i < k && !found; i++) {
		double r = cum + (double)(w[i].w - 1) / 2;
		cum += (double)w[i].w;
		if (r >= pos) {
			res = r > prev_r ? lerp(prev_v, w[i].v, (pos - prev_r) / (r - prev_r)) : w[i].v;
			found = true;
		}
		prev_r = r;
		prev_v = w[i].v;
	}
	if (!found && (double)(s->n - 1) > prev_r) /* past the last item's mid-rank: toward the maximum */
		res = lerp(prev_v, s->hi, (pos - prev_r) / ((double)(s->n - 1) - prev_r));
	free(w);
	return res;
}
