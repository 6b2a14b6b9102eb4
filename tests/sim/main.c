/* SPDX-License-Identifier: MIT */
/* gossip-sim: runs the simulator's scenarios and prints their figures (tables, JSON). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "scenario.h"

static const char usage_text[] =
	"Usage: gossip-sim [OPTIONS]\n"
	"\n"
	"Runs seeds and peers of src/core on a virtual clock and network, and\n"
	"prints each scenario's figures. A run depends only on its seed.\n"
	"\n"
	"  -s, --scenario LIST   scenarios, comma-separated, or 'all' (default: steady)\n"
	"  -n, --peers N         peers (default: the scenario's)\n"
	"  -b, --broadcasts N    measured broadcasts (default: the scenario's)\n"
	"  -r, --seed N          the random seed (default 1)\n"
	"  -j, --json FILE       append each scenario's figures to FILE as a JSON line\n"
	"  -t, --trace FILE      write every node's events to FILE\n"
	"  -c, --check           exit 1 when a scenario misses its bound on delivery, redundancy\n"
	"                        or false deaths\n"
	"  -R, --repeat          run each scenario twice and check both traces are the same\n"
	"  -l, --list            list the scenarios\n"
	"  -h, --help            show this help\n";

struct options {
	const char *scenarios;
	struct run_options run;
	const char *json;
	const char *trace;
	bool check;
	bool repeat;
};

static int
parse_u64_opt(const char *name, const char *s, uint64_t max, uint64_t *ret)
{
	if (parse_u64(s, 0, max, ret) < 0) {
		fprintf(stderr, "gossip-sim: %s: not a number up to %llu: '%s'\n", name,
			(unsigned long long)max, s);
		return -1;
	}
	return 0;
}

static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"scenario", required_argument, NULL, 's'}, {"peers", required_argument, NULL, 'n'},
		{"broadcasts", required_argument, NULL, 'b'}, {"seed", required_argument, NULL, 'r'},
		{"json", required_argument, NULL, 'j'},     {"trace", required_argument, NULL, 't'},
		{"check", no_argument, NULL, 'c'},          {"repeat", no_argument, NULL, 'R'},
		{"list", no_argument, NULL, 'l'},           {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t v;
	int ch;

	while ((ch = getopt_long(argc, argv, "s:n:b:r:j:t:cRlh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o->scenarios = optarg;
			break;
		case 'n':
			if (parse_u64_opt("--peers", optarg, 10000000, &v) < 0)
				return 2;
			o->run.peers = (uint32_t)v;
			break;
		case 'b':
			if (parse_u64_opt("--broadcasts", optarg, 1000000, &v) < 0)
				return 2;
			o->run.broadcasts = (uint32_t)v;
			break;
		case 'r':
			if (parse_u64_opt("--seed", optarg, UINT64_MAX, &o->run.seed) < 0)
				return 2;
			break;
		case 'j':
			o->json = optarg;
			break;
		case 't':
			o->trace = optarg;
			break;
		case 'c':
			o->check = true;
			break;
		case 'R':
			o->repeat = true;
			break;
		case 'l':
			for (size_t i = 0; i < n_scenarios; i++)
				printf("%-10s %5u peers  %s\n", scenarios[i].name, scenarios[i].peers,
				       scenarios[i].what);
			exit(0);
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			fprintf(stderr, "Try 'gossip-sim --help'.\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "gossip-sim: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return 0;
}

/* Runs sc, with its trace in memory when a hash is wanted; the trace's SHA-256 in hash. */
static void
run_hashed(const struct scenario *sc, const struct options *o, struct figures *f,
	   uint8_t hash[SHA256_DIGEST_LENGTH])
{
	struct run_options ro = o->run;
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	if (!mem) {
		perror("gossip-sim: open_memstream");
		exit(1);
	}
	ro.trace = mem;
	scenario_run(sc, &ro, f);
	fclose(mem);
	SHA256((const unsigned char *)text, len, hash);
	free(text);
}

/* One scenario: 0 when it met its bounds (or none were asked for), 1 otherwise. */
static int
run_one(const struct scenario *sc, const struct options *o, FILE *json)
{
	struct figures f, again;
	uint8_t h1[SHA256_DIGEST_LENGTH], h2[SHA256_DIGEST_LENGTH];
	int bad = 0;

	if (o->repeat) {
		run_hashed(sc, o, &f, h1);
		run_hashed(sc, o, &again, h2);
	} else {
		struct run_options ro = o->run;
		FILE *trace = o->trace ? fopen(o->trace, "w") : NULL;
		if (o->trace && !trace) {
			fprintf(stderr, "gossip-sim: cannot write %s: %s\n", o->trace, strerror(errno));
			exit(1);
		}
		ro.trace = trace;
		scenario_run(sc, &ro, &f);
		if (trace)
			fclose(trace);
	}
	figures_print(&f, stdout);
	if (o->repeat) {
		bool same = !memcmp(h1, h2, sizeof(h1));
		printf("  %-22s %s (trace SHA-256 %02x%02x%02x%02x...)\n", "repeated with the seed",
		       same ? "identical trace" : "DIFFERENT TRACE", h1[0], h1[1], h1[2], h1[3]);
		bad |= !same;
	}
	if (json) {
		figures_json(&f, json);
		fputc('\n', json);
	}
	if (o->check && (f.delivery < sc->min_delivery || f.redundancy > sc->max_redundancy ||
			 f.duplicates ||
			 (sc->max_false >= 0 &&
			  f.false_dead + f.false_removed > (uint64_t)sc->max_false))) {
		char bound[32] = "no bound";
		if (sc->max_false >= 0)
			snprintf(bound, sizeof(bound), "at most %lld", (long long)sc->max_false);
		printf("  FAILED: delivery %.4f (at least %.4f), redundancy %.3f (at most %.3f), "
		       "%llu duplicates, %llu false deaths and removals (%s)\n",
		       f.delivery, sc->min_delivery, f.redundancy, sc->max_redundancy,
		       (unsigned long long)f.duplicates,
		       (unsigned long long)(f.false_dead + f.false_removed), bound);
		bad = 1;
	}
	if (bad)
		printf("  replay: gossip-sim --scenario %s --peers %u --broadcasts %u --seed %llu\n",
		       sc->name, f.peers, f.broadcasts, (unsigned long long)o->run.seed);
	fflush(stdout);
	return bad;
}

int
main(int argc, char **argv)
{
	struct options o = {.scenarios = "steady", .run = {.seed = 1}};
	char *list, *save = NULL;
	FILE *json = NULL;
	int r, bad = 0;

	if ((r = parse_options(argc, argv, &o)))
		return r;
	if (o.json && !(json = fopen(o.json, "a"))) {
		fprintf(stderr, "gossip-sim: cannot write %s: %s\n", o.json, strerror(errno));
		return 1;
	}
	list = xstrdup(strcmp(o.scenarios, "all") ? o.scenarios : "");
	if (!strcmp(o.scenarios, "all"))
		for (size_t i = 0; i < n_scenarios; i++)
			bad |= run_one(&scenarios[i], &o, json);
	for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		const struct scenario *sc = scenario_find(name);
		if (!sc) {
			fprintf(stderr, "gossip-sim: no scenario '%s' (see --list)\n", name);
			bad = 2;
			break;
		}
		bad |= run_one(sc, &o, json);
	}
	free(list);
	if (json)
		fclose(json);
	return bad;
}
