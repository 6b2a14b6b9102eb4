/* SPDX-License-Identifier: MIT */
/* Configuration: the settings, their defaults and ranges, validation, reload (files: io/conffile.h). */
#ifndef GOSSIP_CORE_CONFIG_H
#define GOSSIP_CORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "util.h"

#define CONF_MAX_SEEDS 1024
#define CONF_ERR_LEN 4096

struct seed_config {
	uint64_t lease_time_usec;     /* a registration not refreshed for this long is dropped */
	uint32_t max_peers;           /* registry size limit */
	uint32_t peer_list_size;      /* peers in one PEER_LIST at most (a random sample); 0: all */
	uint32_t max_connections;     /* simultaneous TCP connections */
	uint32_t max_connections_per_host; /* of them from one IP address; 0: no limit */
	uint32_t max_peers_per_host;  /* registrations made from one IP address; 0: no limit */
	bool confirm_dead;            /* probe a reported peer before dropping it */
	uint64_t probe_timeout_usec;  /* how long the probe may take */
	uint32_t dead_reporters;      /* distinct reporters that let a silent probe remove a peer */
};

struct peer_config {
	uint32_t degree;              /* neighbours this peer connects to itself */
	uint32_t max_neighbours;      /* in + out */
	uint64_t ping_interval_usec;
	uint64_t ping_timeout_usec;   /* <= ping_interval */
	uint32_t ping_misses;         /* consecutive misses before a neighbour is suspected */
	uint64_t suspicion_timeout_usec; /* a suspected neighbour not heard of for this long is dead */
	uint32_t indirect_probes;     /* neighbours asked to probe a suspected one (PING_REQ) */
	uint32_t seen_cache_size;     /* message ids remembered */
	uint64_t seen_cache_age_usec; /* and for how long */
	uint32_t max_message_size;    /* payload bytes */
	uint64_t send_queue_limit;    /* bytes queued to one neighbour before it is dropped */
	uint32_t history;             /* received messages kept for gossipctl tail */
	uint32_t journal_message_rate; /* "received"/"sent" events logged one by one, a second */
	bool lazy_push;               /* broadcast tree (eager push + IHAVE/GRAFT); false: flood */
	uint64_t ihave_delay_usec;    /* ids gathered this long before one IHAVE announces them */
	uint64_t graft_timeout_usec;  /* least wait after an IHAVE before asking for the message */
	bool adaptive_timers;         /* these and the ping and connect waits follow the round trip */
	uint64_t connect_timeout_usec; /* a connection attempt to a neighbour is given this long */
	bool carry_ihave;             /* ids ride on PING and PONG frames going anyway */
	uint64_t anti_entropy_interval_usec; /* digests compared with a neighbour this often; 0: off */
	uint64_t resend_cache_size;   /* bytes of recent messages kept to answer GRAFT */
	uint64_t register_retry_max_usec; /* backoff cap while a seed majority is not reached */
	uint32_t max_control_clients;
	uint64_t control_idle_timeout_usec; /* a gossipctl client silent this long is disconnected */
	bool sign_messages;           /* sign broadcasts and require signatures (with TLS) */
	uint64_t max_clock_skew_usec; /* messages timestamped further ahead, or too old, are dropped */
	uint32_t key_cache_size;      /* origins' certificates kept to verify signatures */
	char *control_socket;         /* NULL: derived from the runtime directory and port */
	char *control_group;          /* NULL: the daemon's own group */
	char *state_file;             /* NULL: derived; "": none */
};

/* tls.mode, and what it is when not set: required with certificate files, else off. */
enum tls_mode {
	TLS_MODE_OFF,
	TLS_MODE_OPTIONAL, /* accept TLS and plaintext, dial TLS: for migrating a running network */
	TLS_MODE_REQUIRED,
};

struct tls_config {
	char *mode; /* "off", "optional", "required"; NULL: see conf_tls_mode() */
	char *ca_file;
	char *cert_file;
	char *key_file;
	char *crl_file; /* optional */
};

/* How a seed was written (seed lists and seeds), for resolution and its error messages. */
struct conf_seed_name {
	char *host;  /* a host name, or NULL for an address */
	char *where; /* "file:line" */
};

struct gossip_config {
	/*
	 * The seeds. One given by name has only its port here (family 0) until
	 * the daemon resolves it (io/resolve.h), before the core sees it.
	 */
	struct node_addr *seeds;
	struct conf_seed_name *seed_names; /* n_seeds of them; NULL when not read from a file */
	uint32_t n_seeds;
	char *log_dir; /* NULL: $LOGS_DIRECTORY, else the current directory */
	/* The IP address or host name this node advertises when only a port is given; NULL: 127.0.0.1 */
	char *address;
	struct seed_config seed;
	struct peer_config peer;
	struct tls_config tls;
	char *files[4]; /* files applied, in order, for --check-config */
	unsigned n_files;
};

void conf_init(struct gossip_config *c);
/* The host name seed i was given by, or NULL when it was an address. */
const char *conf_seed_host(const struct gossip_config *c, uint32_t i);
/* Drops the seeds (and their names). */
void conf_clear_seeds(struct gossip_config *c);
void conf_free(struct gossip_config *c);

/* Cross-field checks after all files are applied. 0 or -EINVAL with err. */
int conf_validate(const struct gossip_config *c, bool need_seeds, char *err, size_t errlen);

/* The effective TLS mode: tls.mode when set, else required when a certificate is configured. */
enum tls_mode conf_tls_mode(const struct gossip_config *c);
const char *tls_mode_name(enum tls_mode m);

/* Deep copy (for reload: parse into a copy, swap on success). */
void conf_copy(struct gossip_config *dst, const struct gossip_config *src);

/*
 * Reload: gives the settings named in names[] (NULL-terminated, "section.name"
 * or a top-level name) their values in from, the running configuration.
 * Returns how many differed; their names, comma-separated, go to changed.
 */
size_t conf_keep(struct gossip_config *to, const struct gossip_config *from, const char *const names[],
		 char *changed, size_t len);

/* How a setting is written and stored. */
enum setting_kind {
	K_DURATION, /* seconds (int or float) stored as usec */
	K_U32,
	K_U64,
	K_BOOL,
	K_STRING,
};

struct setting_desc {
	const char *section; /* "seed", "peer" or NULL for top level */
	const char *name;
	enum setting_kind kind;
	size_t offset;
	uint64_t min, max; /* usec for durations */
};

/* Every setting of a configuration file but the seeds, with its range. */
extern const struct setting_desc conf_settings[];
extern const size_t conf_n_settings;
/* The setting section.name (section NULL: top level), or NULL. */
const struct setting_desc *conf_find_setting(const char *section, const char *name);
/* Seconds with every microsecond kept ("30.0", "0.25", "1234.5678") so printing round-trips. */
void conf_format_duration(uint64_t usec, char *buf, size_t len);
/* Appends "file:line: message\n" to err (line 0: "file: message"). */
void conf_add_error(char *err, size_t errlen, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#endif
