/* SPDX-License-Identifier: MIT */
/*
 * Anti-entropy (gossip(7), ANTI-ENTROPY): what the broadcast tree missed
 * (a partition, a restart, a GRAFT that failed) is found by comparing.
 *
 * Every peer.anti_entropy_interval a peer sends one random neighbour the
 * digest of the message ids it holds over the buckets it can compare
 * (AE_SUMMARY, TOTAL): ids grouped by their origin timestamp in buckets of
 * WIRE_AE_BUCKET_SEC, from the start of the window (peer.seen_cache_age less
 * peer.max_clock_skew, or the seen cache's memory if shorter, or when this
 * peer became a member, by its state file, if later) to the last
 * bucket that ended more than a bucket ago (newer messages may still be on
 * their way). A mismatch is answered with every bucket's digest (DETAIL);
 * the buckets that differ are answered with the ids held there (AE_IDS) and
 * with a WANT naming them, answered in turn with the other side's ids. Each
 * side fetches the ids it lacks with GRAFT. A quiet network exchanges one
 * short TOTAL per peer and interval.
 */
#include <stdlib.h>
#include <string.h>

#include "peer_int.h"

#define BUCKET_USEC ((uint64_t)WIRE_AE_BUCKET_SEC * USEC_PER_SEC)
/* Ids listed in one answer at most; what is left is found at the next round. */
#define AE_MAX_IDS_PER_ANSWER (16 * WIRE_MAX_IDS)

struct ae_range {
	uint32_t first, last;
};

/* The buckets this peer can compare now; false when none. */
static bool
comparable(const struct peer_node *n, struct instant t, struct ae_range *r)
{
	uint64_t window = n->cfg.peer.seen_cache_age_usec - n->cfg.peer.max_clock_skew_usec;
	uint64_t oldest = t.real > window ? t.real - window : 0;
	uint64_t horizon = seen_cache_horizon(&n->seen, t.mono, t.real);
	uint64_t current = t.real / BUCKET_USEC;

	if (horizon >= oldest)
		oldest = horizon + 1; /* what the full cache forgot cannot be compared */
	if (current < 2)
		return false;
	r->first = (uint32_t)(oldest / BUCKET_USEC + 1); /* the first whole bucket */
	/*
	 * Nor what was broadcast before this peer was a member, but for the
	 * bucket it came in (as links coming up announce the last 10 s).
	 */
	if (n->history_from / BUCKET_USEC > r->first)
		r->first = (uint32_t)(n->history_from / BUCKET_USEC);
	r->last = (uint32_t)(current - 2);
	return r->first <= r->last;
}

static bool
intersect(struct ae_range *r, uint32_t first, uint32_t last)
{
	if (first > r->first)
		r->first = first;
	if (last < r->last)
		r->last = last;
	return r->first <= r->last;
}

/* Counts and digests of r's buckets (v: zeroed, one per bucket) from the seen cache. */
static void
tally(const struct peer_node *n, struct ae_range r, struct wire_ae_bucket *v)
{
	for (size_t i = 0; i < n->seen.count; i++) {
		const struct seen_entry *e = seen_cache_at(&n->seen, i);
		uint64_t b = e->stamp / BUCKET_USEC;

		if (!e->stamp || b < r.first || b > r.last)
			continue;
		v[b - r.first].count++;
		v[b - r.first].digest += get_u64(e->id);
	}
	for (uint32_t b = r.first; b <= r.last; b++)
		v[b - r.first].bucket = b;
}

static struct wire_ae_bucket *
tally_new(const struct peer_node *n, struct ae_range r)
{
	struct wire_ae_bucket *v = xcalloc((size_t)r.last - r.first + 1, sizeof(*v));

	tally(n, r, v);
	return v;
}

static void
send_summary(struct peer_node *n, struct neighbour *nb, uint8_t stage, struct ae_range r,
	     const struct wire_ae_bucket *v, uint16_t count)
{
	struct buf b = {0};

	wire_encode_ae_summary(&b, stage, r.first, r.last, v, count);
	n->stats.ae_bytes_sent += b.len;
	n->stats.ae_summaries_sent++;
	neighbour_send_buf(n, nb, &b);
}

/*
 * Ids in one answer to nb at most: AE_MAX_IDS_PER_ANSWER, and no more than
 * fill an eighth of its send queue (payloads fill three quarters of it,
 * tree.c): an answer over peer.send_queue_limit would have the neighbour
 * dropped as slow. An id costs WIRE_ID_LEN bytes, and a frame's header and
 * count less than one byte an id.
 */
static uint32_t
answer_max(const struct neighbour *nb)
{
	size_t limit = nb->link ? nb->link->queue_limit : 0;
	size_t fit = limit / 8 / (WIRE_ID_LEN + 1);

	return limit && fit < AE_MAX_IDS_PER_ANSWER ? (uint32_t)fit : AE_MAX_IDS_PER_ANSWER;
}

/* Sends nb the ids held in the buckets of r marked in want (one flag per bucket). */
static void
send_ids(struct peer_node *n, struct neighbour *nb, struct ae_range r, const bool *want)
{
	struct buf ids = {0}, b = {0};
	uint32_t k = 0, total = 0, max = answer_max(nb);

	for (size_t i = 0; i < n->seen.count && total < max; i++) {
		const struct seen_entry *e = seen_cache_at(&n->seen, i);
		uint64_t bk = e->stamp / BUCKET_USEC;

		if (!e->stamp || bk < r.first || bk > r.last || !want[bk - r.first])
			continue;
		buf_append(&ids, e->id, WIRE_ID_LEN);
		total++;
		if (++k == WIRE_MAX_IDS || total == max || i + 1 == n->seen.count) {
			wire_encode_ids(&b, WIRE_AE_IDS, ids.data, (uint16_t)k);
			ids.len = 0;
			k = 0;
		}
	}
	if (k)
		wire_encode_ids(&b, WIRE_AE_IDS, ids.data, (uint16_t)k);
	buf_free(&ids);
	n->stats.ae_ids_sent += total;
	n->stats.ae_bytes_sent += b.len;
	if (b.len)
		neighbour_send_buf(n, nb, &b);
	else
		buf_free(&b);
}

static bool
may_exchange(const struct neighbour *nb)
{
	return nb->state == NB_UP && nb->link && !nb->unverified;
}

void
ae_tick(struct peer_node *n, struct instant t)
{
	struct neighbour *pick = NULL;
	struct wire_ae_bucket *v, total = {0};
	struct ae_range r;
	uint64_t seen = 0;

	if (!n->cfg.peer.anti_entropy_interval_usec || t.mono < n->ae_next_at)
		return;
	n->ae_next_at = t.mono + n->cfg.peer.anti_entropy_interval_usec;
	for (struct neighbour *nb = n->neighbours; nb; nb = nb->next)
		if (may_exchange(nb) && rng_below(&n->rng, ++seen) == 0)
			pick = nb;
	if (!pick || !comparable(n, t, &r))
		return;
	v = tally_new(n, r);
	total.bucket = r.first;
	for (uint32_t b = r.first; b <= r.last; b++) {
		total.count += v[b - r.first].count;
		total.digest += v[b - r.first].digest;
	}
	free(v);
	send_summary(n, pick, WIRE_AE_TOTAL, r, &total, 1);
}

/* Non-empty buckets of v (or, want set, those marked), packed at its front: how many. */
static uint16_t
pack(struct wire_ae_bucket *v, struct ae_range r, const bool *want)
{
	uint16_t k = 0;

	for (uint32_t b = r.first; b <= r.last; b++) {
		const struct wire_ae_bucket e = v[b - r.first];
		if (want ? want[b - r.first] : e.count > 0)
			v[k++] = e;
	}
	return k;
}

/* Marks in want the buckets of r where m's entries differ from v; returns how many. */
static uint32_t
differ(const struct wire_msg *m, struct ae_range r, const struct wire_ae_bucket *v, bool *want)
{
	struct wire_ae_bucket theirs;
	uint32_t k = 0;
	uint16_t i = 0;

	for (uint32_t b = r.first; b <= r.last; b++) {
		struct wire_ae_bucket other = {b, 0, 0};
		const struct wire_ae_bucket *mine = &v[b - r.first];

		while (i < m->ae.count && (wire_ae_entry(m, i, &theirs), theirs.bucket < b))
			i++;
		if (i < m->ae.count && theirs.bucket == b)
			other = theirs;
		want[b - r.first] = other.count != mine->count || other.digest != mine->digest;
		k += want[b - r.first];
	}
	return k;
}

/* A WANT names buckets; those it does not name are not asked for. */
static void
only_named(const struct wire_msg *m, struct ae_range r, bool *want)
{
	struct wire_ae_bucket e;
	bool *named = xcalloc((size_t)r.last - r.first + 1, sizeof(*named));

	for (uint16_t i = 0; i < m->ae.count; i++) {
		wire_ae_entry(m, i, &e);
		if (e.bucket >= r.first && e.bucket <= r.last)
			named[e.bucket - r.first] = true;
	}
	for (uint32_t b = r.first; b <= r.last; b++)
		want[b - r.first] &= named[b - r.first];
	free(named);
}

void
ae_summary(struct peer_node *n, struct neighbour *nb, const struct wire_msg *m, struct instant t)
{
	struct ae_range r;
	struct wire_ae_bucket *v, mine = {0}, theirs;
	bool *want;

	n->stats.ae_summaries_received++;
	if (!comparable(n, t, &r) || !intersect(&r, m->ae.first, m->ae.last))
		return;
	v = tally_new(n, r);
	if (m->ae.stage == WIRE_AE_TOTAL) {
		wire_ae_entry(m, 0, &theirs);
		for (uint32_t b = r.first; b <= r.last; b++) {
			mine.count += v[b - r.first].count;
			mine.digest += v[b - r.first].digest;
		}
		/* Over the same range, the same ids: nothing to do. */
		if (r.first != m->ae.first || r.last != m->ae.last || mine.count != theirs.count ||
		    mine.digest != theirs.digest)
			send_summary(n, nb, WIRE_AE_DETAIL, r, v, pack(v, r, NULL));
		free(v);
		return;
	}
	want = xcalloc((size_t)r.last - r.first + 1, sizeof(*want));
	if (differ(m, r, v, want)) {
		if (m->ae.stage == WIRE_AE_WANT)
			only_named(m, r, want);
		send_ids(n, nb, r, want);
		if (m->ae.stage == WIRE_AE_DETAIL)
			send_summary(n, nb, WIRE_AE_WANT, r, v, pack(v, r, want));
	}
	free(want);
	free(v);
}

void
ae_ids(struct peer_node *n, struct neighbour *nb, const struct wire_msg *m, struct instant t)
{
	n->stats.ae_ids_received += m->ids.count;
	n->stats.ae_fetched += tree_fetch(n, nb, m->ids.ids, m->ids.count, t.mono);
}
