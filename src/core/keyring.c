/* SPDX-License-Identifier: MIT */
/* The origins' keys a peer knows, by IP, from verified certificates: to check messages' signatures. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "keyring.h"

static const struct node_addr *
entry_key(const void *ctx, uint32_t i)
{
	return &((const struct keyring *)ctx)->v[i].ip;
}

void
keyring_init(struct keyring *k, size_t max, uint64_t k0, uint64_t k1)
{
	memset(k, 0, sizeof(*k));
	k->max = max ? max : 1;
	k->rnd = k0 | 1;
	addr_index_init(&k->index, k0, k1);
}

static void
drop_key(struct keyring_entry *e, int i)
{
	EVP_PKEY_free(e->pkey[i]);
	e->pkey[i] = NULL;
}

static void
entry_free(struct keyring_entry *e)
{
	drop_key(e, 0);
	drop_key(e, 1);
	blob_unref(e->cert);
	e->cert = NULL;
}

void
keyring_free(struct keyring *k)
{
	for (size_t i = 0; i < k->n; i++)
		entry_free(&k->v[i]);
	free(k->v);
	addr_index_free(&k->index);
	EVP_MD_CTX_free(k->mdctx);
	memset(k, 0, sizeof(*k));
}

/* Forgets one entry at random to make room (the last one takes its place). */
static void
evict(struct keyring *k)
{
	size_t i, last = k->n - 1;

	k->rnd ^= k->rnd << 13;
	k->rnd ^= k->rnd >> 7;
	k->rnd ^= k->rnd << 17;
	i = (size_t)(k->rnd % k->n);
	addr_index_remove(&k->index, &k->v[i].ip, entry_key, k);
	entry_free(&k->v[i]);
	if (i != last) {
		k->v[i] = k->v[last];
		addr_index_renumber(&k->index, &k->v[i].ip, (uint32_t)i, entry_key, k);
	}
	k->n--;
}

static struct keyring_entry *
entry_for(struct keyring *k, const struct node_addr *ip)
{
	int64_t i = addr_index_find(&k->index, ip, entry_key, k);
	struct keyring_entry *e;

	if (i >= 0)
		return &k->v[i];
	if (k->n == k->max)
		evict(k);
	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 16;
		k->v = xreallocarray(k->v, k->cap, sizeof(*k->v));
	}
	e = &k->v[k->n];
	memset(e, 0, sizeof(*e));
	e->ip = *ip;
	addr_index_insert(&k->index, ip, (uint32_t)k->n, entry_key, k);
	k->n++;
	return e;
}

static bool
learn(struct keyring_entry *e, const struct identity *id)
{
	bool changed = false;

	if (e->nkeys && !memcmp(e->key[0], id->key, IDENTITY_KEY_LEN)) {
		e->not_after[0] = id->not_after; /* the same key, perhaps renewed */
	} else {
		changed = true;
		drop_key(e, 1);
		memcpy(e->key[1], e->key[0], IDENTITY_KEY_LEN);
		e->not_after[1] = e->not_after[0];
		e->pkey[1] = e->pkey[0];
		e->pkey[0] = NULL;
		memcpy(e->key[0], id->key, IDENTITY_KEY_LEN);
		e->not_after[0] = id->not_after;
		e->nkeys = e->nkeys ? 2 : 1;
	}
	if (id->cert) {
		blob_unref(e->cert);
		e->cert = blob_ref(id->cert);
	}
	return changed;
}

bool
keyring_add(struct keyring *k, const struct identity *id)
{
	bool changed = false;

	if (!id->has_key)
		return false;
	for (uint32_t i = 0; i < id->n_addrs && i < IDENTITY_MAX_ADDRS; i++) {
		struct node_addr ip = {.family = id->addrs[i].family};
		memcpy(ip.addr, id->addrs[i].addr, sizeof(ip.addr));
		changed |= learn(entry_for(k, &ip), id);
	}
	return changed;
}

static bool
check(struct keyring *k, struct keyring_entry *e, int i, const uint8_t *msg, size_t len,
      const uint8_t *sig)
{
	if (!e->pkey[i])
		e->pkey[i] = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, e->key[i],
							 IDENTITY_KEY_LEN);
	if (!e->pkey[i])
		return false;
	if (!k->mdctx && !(k->mdctx = EVP_MD_CTX_new()))
		return false;
	EVP_MD_CTX_reset(k->mdctx);
	return EVP_DigestVerifyInit(k->mdctx, NULL, NULL, NULL, e->pkey[i]) == 1 &&
	       EVP_DigestVerify(k->mdctx, sig, WIRE_SIG_LEN, msg, len) == 1;
}

enum keyring_verdict
keyring_verify(struct keyring *k, const struct node_addr *origin, const uint8_t *msg, size_t len,
	       const uint8_t sig[WIRE_SIG_LEN], uint64_t now_real)
{
	struct node_addr ip = keyring_ip(origin);
	int64_t i = addr_index_find(&k->index, &ip, entry_key, k);
	bool any = false;

	if (i < 0)
		return KEYRING_UNKNOWN;
	for (int j = 0; j < k->v[i].nkeys; j++) {
		if (k->v[i].not_after[j] && k->v[i].not_after[j] < now_real)
			continue; /* an expired certificate proves nothing now */
		any = true;
		if (check(k, &k->v[i], j, msg, len, sig))
			return KEYRING_VALID;
	}
	return any ? KEYRING_BAD : KEYRING_UNKNOWN;
}

struct blob *
keyring_cert(const struct keyring *k, const struct node_addr *a)
{
	struct node_addr ip = keyring_ip(a);
	int64_t i = addr_index_find(&k->index, &ip, entry_key, k);

	return i < 0 ? NULL : k->v[i].cert;
}
