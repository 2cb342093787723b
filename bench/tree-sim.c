/*
 * tree-sim: drives the tree manager (tree/) with a churn model and prints
 * what the status page would show at scale: the depth distribution, the
 * connectible share, the nodes the tree cannot hold, placements per second
 * and the repair work per departure.
 *
 * The run has two phases. Ramp: nodes join until the population reaches
 * --nodes. Churn: each step is a join or a departure of a random node, in
 * the ratio of the two rates, until --churn x nodes departures have been
 * made. A node's NAT class is drawn from the mix; an open or predictable
 * node is verified --lag steps after it joins, and fails with --fail
 * percent chance. Deterministic for a given seed.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tree/tree.h"

enum {
	SIM_NODES = 'n', SIM_CHURN = 'c', SIM_JOIN = 'j', SIM_LEAVE = 'l',
	SIM_OPEN = 'o', SIM_PRED = 'p', SIM_RANDOM = 'r', SIM_FAIL = 'f',
	SIM_LAG = 'L', SIM_FANOUT = 'F', SIM_SEED = 's', SIM_CHECK = 'C',
	SIM_HELP = 'h'
};

struct sim_opt {
	const char	*name;
	int		 key;
	const char	*arg;
	const char	*help;
};

static const struct sim_opt sim_opts[] = {
	{ "nodes", SIM_NODES, "N", "population to reach and hold "
	  "(default 1000000)" },
	{ "churn", SIM_CHURN, "F", "departures in the churn phase, as a "
	  "fraction of N (default 1)" },
	{ "join-rate", SIM_JOIN, "R", "joins per second in the churn phase "
	  "(default 100)" },
	{ "leave-rate", SIM_LEAVE, "R", "departures per second (default 100)" },
	{ "open", SIM_OPEN, "PCT", "share of open NATs (default 35)" },
	{ "predictable", SIM_PRED, "PCT", "share of predictable NATs "
	  "(default 45)" },
	{ "random", SIM_RANDOM, "PCT", "share of random NATs (default 20)" },
	{ "fail", SIM_FAIL, "PCT", "verifications that fail, of open and "
	  "predictable nodes (default 5)" },
	{ "lag", SIM_LAG, "STEPS", "steps from a join to its verification "
	  "(default 0: at once)" },
	{ "fanout", SIM_FANOUT, "F", "origin fanout (default 2)" },
	{ "seed", SIM_SEED, "S", "random seed (default 1)" },
	{ "check", SIM_CHECK, NULL, "run tree_check() at the end of each "
	  "phase" },
	{ "help", SIM_HELP, NULL, "print this help and exit" },
	{ NULL, 0, NULL, NULL }
};

struct sim_cfg {
	uint32_t	nodes;
	double		churn;
	double		join_rate;
	double		leave_rate;
	unsigned	mix[TREE_NAT_COUNT];
	unsigned	fail;
	uint32_t	lag;
	uint32_t	fanout;
	uint64_t	seed;
	int		check;
};

/* A verification waiting its turn; gen tells a later node with the same
 * handle apart. */
struct sim_pending {
	uint32_t	id;
	uint32_t	gen;
	uint64_t	due;
};

struct sim {
	struct sim_cfg		 cfg;
	struct tree		*t;
	uint64_t		 rng;
	uint32_t		 max_id;
	uint32_t		*present;	/* joined handles, any order */
	uint32_t		*pos;		/* [id]: index in present */
	uint32_t		 npresent;
	uint32_t		*freeids;
	uint32_t		 nfree;
	uint32_t		*gen;
	struct sim_pending	*vq;		/* ring of verifications */
	size_t			 vqhead, vqlen, vqcap;
	uint64_t		 step;

	/* Figures. */
	uint64_t	joins, leaves, verifies, rejected;
	uint64_t	ev[3];			/* by kind, all operations */
	uint64_t	leave_moves, leave_orphans, max_leave_moves;
	uint64_t	verify_moves;
	double		t_join, t_leave, t_verify;
	double		last_progress;
};

static uint64_t
sim_rand(struct sim *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t
sim_below(struct sim *s, uint32_t n)
{
	return (uint32_t)(((sim_rand(s) >> 32) * n) >> 32);
}

static double
sim_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
sim_usage(FILE *fp)
{
	const struct sim_opt *o;
	char left[48];

	fprintf(fp, "usage: tree-sim [options]\n\n"
	    "Drives the tree manager with joins, verifications and "
	    "departures, and prints\nthe depth distribution, the connectible "
	    "share, the shortfall, placements per\nsecond and the repair "
	    "work per departure.\n\noptions:\n");
	for (o = sim_opts; o->name != NULL; o++) {
		snprintf(left, sizeof left, "-%c, --%s%s%s", o->key, o->name,
		    o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(fp, "  %-26s %s\n", left, o->help);
	}
}

/* Parses a number in [lo, hi]; exits with a message naming the value. */
static double
sim_number(const char *opt, const char *text, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !(v >= lo) ||
	    !(v <= hi)) {
		fprintf(stderr, "tree-sim: --%s '%s': not a number from %g to "
		    "%g\n", opt, text, lo, hi);
		exit(2);
	}
	return v;
}

static void
sim_parse(struct sim_cfg *cfg, int argc, char **argv)
{
	struct option lopts[sizeof sim_opts / sizeof sim_opts[0]];
	char sopts[2 * (sizeof sim_opts / sizeof sim_opts[0]) + 1], *sp = sopts;
	const struct sim_opt *o;
	size_t i = 0;
	int key;

	for (o = sim_opts; o->name != NULL; o++, i++) {
		lopts[i].name = o->name;
		lopts[i].has_arg = o->arg ? required_argument : no_argument;
		lopts[i].flag = NULL;
		lopts[i].val = o->key;
		*sp++ = (char)o->key;
		if (o->arg)
			*sp++ = ':';
	}
	memset(&lopts[i], 0, sizeof lopts[i]);
	*sp = '\0';

	while ((key = getopt_long(argc, argv, sopts, lopts, NULL)) != -1) {
		for (o = sim_opts; o->name != NULL && o->key != key; o++)
			;
		switch (key) {
		case SIM_NODES:
			cfg->nodes = (uint32_t)sim_number(o->name, optarg, 1,
			    50000000);
			break;
		case SIM_CHURN:
			cfg->churn = sim_number(o->name, optarg, 0, 1000);
			break;
		case SIM_JOIN:
			cfg->join_rate = sim_number(o->name, optarg, 0, 1e9);
			break;
		case SIM_LEAVE:
			cfg->leave_rate = sim_number(o->name, optarg, 0, 1e9);
			break;
		case SIM_OPEN:
		case SIM_PRED:
		case SIM_RANDOM:
			cfg->mix[key == SIM_OPEN ? TREE_NAT_OPEN :
			    key == SIM_PRED ? TREE_NAT_PREDICTABLE :
			    TREE_NAT_RANDOM] = (unsigned)sim_number(o->name,
			    optarg, 0, 100);
			break;
		case SIM_FAIL:
			cfg->fail = (unsigned)sim_number(o->name, optarg, 0,
			    100);
			break;
		case SIM_LAG:
			cfg->lag = (uint32_t)sim_number(o->name, optarg, 0,
			    1e7);
			break;
		case SIM_FANOUT:
			cfg->fanout = (uint32_t)sim_number(o->name, optarg, 1,
			    TREE_FANOUT_MAX);
			break;
		case SIM_SEED:
			cfg->seed = (uint64_t)sim_number(o->name, optarg, 0,
			    1e18);
			break;
		case SIM_CHECK:
			cfg->check = 1;
			break;
		case SIM_HELP:
			sim_usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "tree-sim: see --help\n");
			exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "tree-sim: unexpected argument '%s'\n",
		    argv[optind]);
		exit(2);
	}
	if (cfg->mix[0] + cfg->mix[1] + cfg->mix[2] != 100) {
		fprintf(stderr, "tree-sim: --open, --predictable and --random "
		    "add up to %u, not 100\n",
		    cfg->mix[0] + cfg->mix[1] + cfg->mix[2]);
		exit(2);
	}
	if (cfg->churn > 0 && cfg->join_rate + cfg->leave_rate <= 0) {
		fprintf(stderr, "tree-sim: churn needs a join or leave rate\n");
		exit(2);
	}
}

/* Drains the tree's events, counting them for the operation just done. */
static void
sim_drain(struct sim *s, uint64_t *moves, uint64_t *orphans)
{
	struct tree_event ev[256];
	size_t n, i;

	while ((n = tree_drain(s->t, ev, 256)) > 0)
		for (i = 0; i < n; i++) {
			s->ev[ev[i].kind]++;
			if (ev[i].kind == TREE_EV_MOVED && moves != NULL)
				(*moves)++;
			if (ev[i].kind == TREE_EV_ORPHANED && orphans != NULL)
				(*orphans)++;
		}
}

static void
sim_fatal(const char *what, uint32_t id)
{
	fprintf(stderr, "tree-sim: %s %u failed\n", what, id);
	exit(1);
}

static void
sim_join(struct sim *s)
{
	enum tree_nat nat;
	uint32_t id, r;
	double t0;

	if (s->nfree == 0) {
		s->rejected++;
		return;
	}
	id = s->freeids[--s->nfree];
	r = sim_below(s, 100);
	nat = r < s->cfg.mix[0] ? TREE_NAT_OPEN :
	    r < s->cfg.mix[0] + s->cfg.mix[1] ? TREE_NAT_PREDICTABLE :
	    TREE_NAT_RANDOM;
	t0 = sim_now();
	if (tree_join(s->t, id, nat) != 0)
		sim_fatal("join", id);
	s->t_join += sim_now() - t0;
	sim_drain(s, NULL, NULL);
	s->joins++;
	s->pos[id] = s->npresent;
	s->present[s->npresent++] = id;
	s->gen[id]++;
	if (nat != TREE_NAT_RANDOM) {
		struct sim_pending *p;

		p = &s->vq[(s->vqhead + s->vqlen++) % s->vqcap];
		p->id = id;
		p->gen = s->gen[id];
		p->due = s->step + s->cfg.lag;
	}
}

static void
sim_leave(struct sim *s)
{
	uint64_t moves = 0, orphans = 0;
	uint32_t i, id, last;
	double t0;

	if (s->npresent == 0)
		return;
	i = sim_below(s, s->npresent);
	id = s->present[i];
	last = s->present[--s->npresent];
	s->present[i] = last;
	s->pos[last] = i;
	t0 = sim_now();
	if (tree_leave(s->t, id) != 0)
		sim_fatal("leave", id);
	s->t_leave += sim_now() - t0;
	sim_drain(s, &moves, &orphans);
	s->freeids[s->nfree++] = id;
	s->gen[id]++;
	s->leaves++;
	s->leave_moves += moves;
	s->leave_orphans += orphans;
	if (moves > s->max_leave_moves)
		s->max_leave_moves = moves;
}

/* Verifies the nodes whose turn has come. */
static void
sim_verify_due(struct sim *s)
{
	struct sim_pending *p;
	double t0;
	int ok;

	while (s->vqlen > 0) {
		p = &s->vq[s->vqhead];
		if (p->due > s->step)
			break;
		s->vqhead = (s->vqhead + 1) % s->vqcap;
		s->vqlen--;
		if (s->gen[p->id] != p->gen)
			continue;	/* left before its verification */
		ok = sim_below(s, 100) >= s->cfg.fail;
		t0 = sim_now();
		if (tree_verify(s->t, p->id, ok, "punch test failed") != 0)
			sim_fatal("verify", p->id);
		s->t_verify += sim_now() - t0;
		sim_drain(s, &s->verify_moves, NULL);
		s->verifies++;
	}
}

static void
sim_progress(struct sim *s, const char *phase, uint64_t done, uint64_t total)
{
	double now;

	if ((s->step & 0xffff) != 0)
		return;
	now = sim_now();
	if (now - s->last_progress < 1.0)
		return;
	s->last_progress = now;
	fprintf(stderr, "tree-sim: %s %" PRIu64 "/%" PRIu64 ", %u nodes\n",
	    phase, done, total, s->npresent);
}

static void
sim_check(struct sim *s, const char *phase)
{
	char err[256];

	if (!s->cfg.check)
		return;
	if (tree_check(s->t, err, sizeof err) != 0) {
		fprintf(stderr, "tree-sim: after %s: %s\n", phase, err);
		exit(1);
	}
	fprintf(stderr, "tree-sim: after %s: tree_check passed\n", phase);
}

static void
sim_line(const char *name, const char *value, const char *unit)
{
	printf("%-28s %14s %s\n", name, value, unit);
}

static void
sim_num(const char *name, double v, int decimals, const char *unit)
{
	char buf[64];

	snprintf(buf, sizeof buf, "%.*f", decimals, v);
	sim_line(name, buf, unit);
}

/* ceil(log2(x)) for x >= 1. */
static unsigned
sim_log2_up(uint64_t x)
{
	unsigned k = 0;

	while ((1ULL << k) < x)
		k++;
	return k;
}

static void
sim_report(struct sim *s, double elapsed)
{
	struct tree_counts c;
	uint64_t *hist, sum = 0;
	uint32_t i, d, open_reps = 0;
	double busy = s->t_join + s->t_leave + s->t_verify;
	char name[32];

	tree_counts(s->t, &c);
	hist = calloc((size_t)c.max_depth + 1, sizeof *hist);
	if (hist == NULL)
		sim_fatal("report", 0);
	for (i = 0; i < s->npresent; i++) {
		int dep = tree_depth(s->t, s->present[i]);

		if (dep >= 0) {
			hist[dep]++;
			sum += (uint64_t)dep;
		}
		if (tree_role(s->t, s->present[i]) == TREE_ROLE_REPEATER &&
		    tree_nat(s->t, s->present[i]) == TREE_NAT_OPEN)
			open_reps++;
	}
	sim_num("nodes", c.nodes, 0, "nodes");
	sim_num("placed", c.placed, 0, "nodes");
	sim_num("cannot hold (unplaced)", c.unplaced, 0, "nodes");
	sim_num("  of which random NAT", c.unplaced_random, 0, "nodes");
	sim_num("random NAT nodes", c.nat[TREE_NAT_RANDOM], 0, "nodes");
	sim_num("open repeaters", open_reps, 0, "nodes");
	sim_num("slots for random nodes", (double)s->cfg.fanout + 2.0 *
	    open_reps, 0, "slots (origin and open repeaters)");
	sim_num("repeaters", c.repeaters, 0, "nodes");
	sim_num("candidates", c.candidates, 0, "nodes");
	sim_num("non-repeaters", c.nonrepeaters, 0, "nodes");
	sim_num("connectible share", c.nodes ? 100.0 * c.repeaters / c.nodes :
	    0, 2, "% (repeaters)");
	sim_num("placed share", c.nodes ? 100.0 * c.placed / c.nodes : 0, 2,
	    "%");
	sim_num("free slots", c.free_slots, 0, "slots");
	sim_num("origin children", c.origin_children, 0, "nodes");
	sim_num("max depth", c.max_depth, 0, "levels");
	sim_num("depth bound ceil(log2(n+1))+1",
	    sim_log2_up((uint64_t)c.placed + 1) + 1, 0, "levels");
	sim_num("mean depth", c.placed ? (double)sum / c.placed : 0, 2,
	    "levels");
	for (d = 1; d <= c.max_depth; d++) {
		snprintf(name, sizeof name, "depth %u", d);
		sim_num(name, (double)hist[d], 0, "nodes");
	}
	free(hist);
	sim_num("joins", (double)s->joins, 0, "ops");
	sim_num("verifications", (double)s->verifies, 0, "ops");
	sim_num("departures", (double)s->leaves, 0, "ops");
	sim_num("joins refused (no handle)", (double)s->rejected, 0, "ops");
	sim_num("placements per second", s->t_join > 0 ? s->joins /
	    s->t_join : 0, 0, "joins/s (time in tree_join)");
	sim_num("placements per second, wall", elapsed > 0 ? s->joins /
	    elapsed : 0, 0, "joins/s (whole run, simulator included)");
	sim_num("operations per second", busy > 0 ? (s->joins + s->leaves +
	    s->verifies) / busy : 0, 0, "ops/s (time in tree calls)");
	sim_num("time per join", s->joins ? 1e9 * s->t_join / s->joins : 0,
	    0, "ns");
	sim_num("time per verification", s->verifies ? 1e9 * s->t_verify /
	    s->verifies : 0, 0, "ns");
	sim_num("time per departure", s->leaves ? 1e9 * s->t_leave /
	    s->leaves : 0, 0, "ns");
	sim_num("repair moves per departure", s->leaves ?
	    (double)s->leave_moves / s->leaves : 0, 3, "moves");
	sim_num("repair moves, worst", (double)s->max_leave_moves, 0,
	    "moves");
	sim_num("orphaned per departure", s->leaves ?
	    (double)s->leave_orphans / s->leaves : 0, 3, "nodes");
	sim_num("moves per verification", s->verifies ?
	    (double)s->verify_moves / s->verifies : 0, 3, "moves");
	sim_num("events placed", (double)s->ev[TREE_EV_PLACED], 0, "events");
	sim_num("events moved", (double)s->ev[TREE_EV_MOVED], 0, "events");
	sim_num("events orphaned", (double)s->ev[TREE_EV_ORPHANED], 0,
	    "events");
	sim_num("tree memory per handle", (double)tree_memory(s->t) /
	    tree_max_nodes(s->t), 1, "bytes");
	sim_num("wall time", elapsed, 2, "s");
}

int
main(int argc, char **argv)
{
	struct sim s;
	uint64_t target, done = 0, simulated = 0;
	double start, pjoin;
	uint32_t i;

	memset(&s, 0, sizeof s);
	s.cfg.nodes = 1000000;
	s.cfg.churn = 1.0;
	s.cfg.join_rate = 100;
	s.cfg.leave_rate = 100;
	s.cfg.mix[TREE_NAT_OPEN] = 35;
	s.cfg.mix[TREE_NAT_PREDICTABLE] = 45;
	s.cfg.mix[TREE_NAT_RANDOM] = 20;
	s.cfg.fail = 5;
	s.cfg.fanout = 2;
	s.cfg.seed = 1;
	sim_parse(&s.cfg, argc, argv);
	s.rng = s.cfg.seed;

	/* Handles: the population, and room for it to drift upward. */
	s.max_id = s.cfg.nodes + s.cfg.nodes / 4 + 16;
	s.t = tree_create(s.max_id, s.cfg.fanout);
	s.present = calloc(s.max_id, sizeof *s.present);
	s.pos = calloc((size_t)s.max_id + 1, sizeof *s.pos);
	s.freeids = calloc(s.max_id, sizeof *s.freeids);
	s.gen = calloc((size_t)s.max_id + 1, sizeof *s.gen);
	s.vqcap = (size_t)s.max_id + s.cfg.lag + 2;	/* one a step */
	s.vq = calloc(s.vqcap, sizeof *s.vq);
	if (s.t == NULL || s.present == NULL || s.pos == NULL ||
	    s.freeids == NULL || s.gen == NULL || s.vq == NULL) {
		fprintf(stderr, "tree-sim: out of memory\n");
		return 1;
	}
	for (i = 0; i < s.max_id; i++)
		s.freeids[s.nfree++] = s.max_id - i;

	printf("# tree-sim: nodes %u, churn %g, rates %g/%g per s, mix "
	    "open %u%% predictable %u%% random %u%%, fail %u%%, lag %u, "
	    "fanout %u, seed %" PRIu64 "\n", s.cfg.nodes, s.cfg.churn,
	    s.cfg.join_rate, s.cfg.leave_rate, s.cfg.mix[0], s.cfg.mix[1],
	    s.cfg.mix[2], s.cfg.fail, s.cfg.lag, s.cfg.fanout, s.cfg.seed);
	start = s.last_progress = sim_now();

	/* Ramp. */
	while (s.npresent < s.cfg.nodes) {
		sim_join(&s);
		sim_verify_due(&s);
		s.step++;
		sim_progress(&s, "ramp", s.npresent, s.cfg.nodes);
	}
	sim_check(&s, "ramp");

	/* Churn. */
	target = (uint64_t)(s.cfg.churn * s.cfg.nodes);
	pjoin = s.cfg.join_rate / (s.cfg.join_rate + s.cfg.leave_rate);
	while (done < target) {
		if ((double)(sim_rand(&s) >> 11) * 0x1p-53 < pjoin)
			sim_join(&s);
		else {
			sim_leave(&s);
			done++;
		}
		simulated++;
		sim_verify_due(&s);
		s.step++;
		sim_progress(&s, "churn", done, target);
	}
	/* Let the last verifications land. */
	s.step += s.cfg.lag;
	sim_verify_due(&s);
	sim_check(&s, "churn");

	if (target > 0)
		printf("# churn phase: %" PRIu64 " steps, %.0f s of simulated "
		    "time\n", simulated, simulated / (s.cfg.join_rate +
		    s.cfg.leave_rate));
	sim_report(&s, sim_now() - start);
	tree_free(s.t);
	free(s.present);
	free(s.pos);
	free(s.freeids);
	free(s.gen);
	free(s.vq);
	return 0;
}
