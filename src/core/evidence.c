/* SPDX-License-Identifier: MIT */
/* A seed's evidence against registered peers (evidence.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "evidence.h"

static struct suspect *
find(const struct evidence *e, const struct node_addr *target)
{
	for (size_t i = 0; i < e->n; i++)
		if (node_addr_equal(&e->v[i].target, target))
			return &e->v[i];
	return NULL;
}

static void
remove_at(struct evidence *e, size_t i)
{
	e->v[i] = e->v[--e->n];
}

uint32_t
evidence_add(struct evidence *e, const struct node_addr *target, const struct node_addr *reporter,
	     uint64_t now)
{
	struct suspect *s = find(e, target);

	if (!s) {
		if (!e->v)
			e->v = xcalloc(EVIDENCE_MAX_SUSPECTS, sizeof(*e->v));
		if (e->n == EVIDENCE_MAX_SUSPECTS) {
			size_t oldest = 0;
			for (size_t i = 1; i < e->n; i++)
				if (e->v[i].first_at < e->v[oldest].first_at)
					oldest = i;
			remove_at(e, oldest);
			e->replaced++;
		}
		s = &e->v[e->n++];
		memset(s, 0, sizeof(*s));
		s->target = *target;
		s->first_at = now;
	}
	for (uint32_t i = 0; i < s->n; i++)
		if (node_addr_equal(&s->reporters[i], reporter))
			return s->n;
	if (s->n < EVIDENCE_MAX_REPORTERS)
		s->reporters[s->n++] = *reporter;
	return s->n;
}

uint32_t
evidence_count(const struct evidence *e, const struct node_addr *target)
{
	const struct suspect *s = find(e, target);

	return s ? s->n : 0;
}

bool
evidence_first(const struct evidence *e, const struct node_addr *target, struct node_addr *ret)
{
	const struct suspect *s = find(e, target);

	if (!s || !s->n)
		return false;
	*ret = s->reporters[0];
	return true;
}

void
evidence_clear(struct evidence *e, const struct node_addr *target)
{
	for (size_t i = 0; i < e->n; i++)
		if (node_addr_equal(&e->v[i].target, target)) {
			remove_at(e, i);
			return;
		}
}

void
evidence_expire(struct evidence *e, uint64_t now, uint64_t max_age)
{
	for (size_t i = 0; i < e->n;)
		if (now - e->v[i].first_at > max_age)
			remove_at(e, i);
		else
			i++;
}

void
evidence_free(struct evidence *e)
{
	free(e->v);
	memset(e, 0, sizeof(*e));
}
