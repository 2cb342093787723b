/* The broker's figures: each link's outcome by its pair of NAT classes,
 * each failed or relayed link's class (README, Failure classes), and
 * /api/links and /metrics over them. */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include <event2/buffer.h>

#include "negotiator/broker-private.h"

void
broker_count(struct broker *br, struct blink *l, enum outcome o, uint32_t ms)
{
	unsigned ca = nat_class(&l->a.profile), cb = nat_class(&l->b.profile);

	l->state = BL_COUNTED;
	if (l->a.verifier) {
		if (o <= OUT_RELAY)
			br->c.verify_up++;
		else
			br->c.verify_failed++;
		return;
	}
	br->pairs[ca][cb][o]++;
	if (o <= OUT_RELAY)
		br->pair_ms[ca][cb] += ms;
}

void
broker_count_step(struct broker *br, struct blink *l, enum link_step step)
{
	broker_count(br, l, (enum outcome)(OUT_FAIL + step - 1), 0);
}

static const char *const link_classes[LINK_CLASS_COUNT] = {
	"none", "random", "lossy", "filtering", "mapping", "peer_gone",
	"unknown"
};

const char *
link_class_name(enum link_class c)
{
	return (unsigned)c < LINK_CLASS_COUNT ? link_classes[c] : NULL;
}

static int
broker_lossy(const struct broker_end *e)
{
	return e->have_seen && (e->seen.loss_permille >= LINK_LOSSY_PERMILLE ||
	    e->seen.rtt_ms >= LINK_SLOW_MS);
}

enum link_class
broker_classify(const struct nat_profile *pa, const struct nat_profile *pb,
    const struct broker_end *a, const struct broker_end *b, int silent)
{
	const struct broker_end *f = a->have ? a : b;	/* the word taken */
	int random = !nat_predictable(pa) || !nat_predictable(pb);

	if (silent)
		return LINK_CLASS_PEER_GONE;
	if (!f->have)
		return LINK_CLASS_UNKNOWN;
	if (f->o.ok)
		return f->o.path != LINK_PATH_RELAY ? LINK_CLASS_NONE :
		    random ? LINK_CLASS_RANDOM : LINK_CLASS_FILTERING;
	if (f->o.step == LINK_STEP_PEER)
		return LINK_CLASS_PEER_GONE;
	if (broker_lossy(a) || broker_lossy(b))
		return LINK_CLASS_LOSSY;
	if (!a->have || !b->have)
		return LINK_CLASS_PEER_GONE;	/* one end never reported */
	switch (f->o.step) {
	case LINK_STEP_MAPPING:
	case LINK_STEP_RELAY:
		return LINK_CLASS_LOSSY;	/* both to the negotiator */
	case LINK_STEP_UDT:
		return LINK_CLASS_MAPPING;	/* a punched pair stopped */
	case LINK_STEP_PUNCH:
		if (random)
			return LINK_CLASS_RANDOM;
		if (!a->have_seen || !b->have_seen)
			return LINK_CLASS_UNKNOWN;
		if (a->seen.learnt > 0 || b->seen.learnt > 0)
			return LINK_CLASS_MAPPING;
		if (a->seen.sent > 0 || b->seen.sent > 0)
			return LINK_CLASS_FILTERING;
		return LINK_CLASS_UNKNOWN;
	default:
		return LINK_CLASS_UNKNOWN;
	}
}

/* Counts l's class by its pair of NAT classes, once. */
void
broker_class_count(struct broker *br, struct blink *l, int silent)
{
	enum link_class c;

	l->classified = 1;
	if (l->a.verifier)
		return;
	c = broker_classify(&l->a.profile, &l->b.profile, &l->end[0],
	    &l->end[1], silent);
	br->classes[nat_class(&l->a.profile)][nat_class(&l->b.profile)][c]++;
}

/* A report in: the link is classified once both ends' are, or after
 * BROKER_CLASS_WAIT_MS (the oldest waiting goes first when full). */
void
broker_class_wait(struct broker *br, struct blink *l, uint64_t now)
{
	unsigned i;

	if (l->classified)
		return;
	if (l->end[0].have && l->end[1].have) {
		broker_class_count(br, l, 0);
		return;
	}
	if (br->cwait_n == BROKER_CLASS_WAIT_MAX) {
		i = br->cwait_head;
		if (br->links[br->cwait[i].slot].id == br->cwait[i].id &&
		    !br->links[br->cwait[i].slot].classified)
			broker_class_count(br, &br->links[br->cwait[i].slot],
			    0);
		br->cwait_head = (i + 1) % BROKER_CLASS_WAIT_MAX;
		br->cwait_n--;
	}
	i = (br->cwait_head + br->cwait_n++) % BROKER_CLASS_WAIT_MAX;
	br->cwait[i].slot = (uint32_t)(l - br->links);
	br->cwait[i].id = l->id;
	br->cwait[i].due_ms = now + BROKER_CLASS_WAIT_MS;
}

/* Under the lock: the links whose other end's report is overdue. */
void
broker_class_due(struct broker *br, uint64_t now)
{
	struct blink *l;
	unsigned i;

	while (br->cwait_n > 0 &&
	    br->cwait[br->cwait_head].due_ms <= now) {
		i = br->cwait_head;
		l = &br->links[br->cwait[i].slot];
		if (l->id == br->cwait[i].id && !l->classified)
			broker_class_count(br, l, 0);
		br->cwait_head = (i + 1) % BROKER_CLASS_WAIT_MAX;
		br->cwait_n--;
	}
}

/* The outcome of a link that came up, by its path (enum link_path). */
enum outcome
broker_up_outcome(unsigned path)
{
	return path == LINK_PATH_LOCAL ? OUT_LOCAL :
	    path == LINK_PATH_RELAY ? OUT_RELAY : OUT_DIRECT;
}

/* A link that A never reported on ends: counted on B's word, if any. */
void
broker_count_unreported(struct broker *br, struct blink *l)
{
	if (l->have_report_b && l->report_b.ok)
		broker_count(br, l, broker_up_outcome(l->report_b.path),
		    l->report_b.ms);
	else
		broker_count(br, l, OUT_UNREPORTED, 0);
}

static const char *const broker_outs[OUT_COUNT] = {
	"direct", "local", "relay", "failed_request", "failed_peer",
	"failed_mapping", "failed_punch", "failed_relay", "failed_udt",
	"unreported"
};

/* Under the lock: links by class, over every pair of NAT classes. */
static void
broker_class_totals(const struct broker *br, uint32_t tot[LINK_CLASS_COUNT])
{
	unsigned x, y, c;

	memset(tot, 0, LINK_CLASS_COUNT * sizeof *tot);
	for (x = 0; x < NAT_CLASS_COUNT; x++)
		for (y = 0; y < NAT_CLASS_COUNT; y++)
			for (c = 0; c < LINK_CLASS_COUNT; c++)
				tot[c] += br->classes[x][y][c];
}

/* {"random":n,...}: every class but none. */
static void
broker_class_json(struct evbuffer *out, const uint32_t n[LINK_CLASS_COUNT])
{
	unsigned c;

	for (c = LINK_CLASS_NONE + 1; c < LINK_CLASS_COUNT; c++)
		evbuffer_add_printf(out, "%s\"%s\":%u", c == 1 ? "{" : ",",
		    link_classes[c], n[c]);
	evbuffer_add(out, "}", 1);
}

void
broker_metrics(struct broker *br, struct evbuffer *out)
{
	struct relay_stats rs = { 0 };
	const uint32_t *p;
	uint32_t tot[LINK_CLASS_COUNT];
	unsigned x, y, o;

	evbuffer_add_printf(out, "# HELP treecast_link_outcomes_total Link "
	    "attempts by the NAT classes of the asking node (a) and the "
	    "asked (b), and how they ended.\n"
	    "# TYPE treecast_link_outcomes_total counter\n");
	broker_lock(br);
	for (x = 0; x < NAT_CLASS_COUNT; x++)
		for (y = 0; y < NAT_CLASS_COUNT; y++)
			for (p = br->pairs[x][y], o = 0; o < OUT_COUNT; o++)
				if (p[o] > 0)
					evbuffer_add_printf(out,
					    "treecast_link_outcomes_total{a=\"%s\","
					    "b=\"%s\",outcome=\"%s\"} %u\n",
					    nat_class_label(x),
					    nat_class_label(y),
					    broker_outs[o], p[o]);
	broker_class_totals(br, tot);
	evbuffer_add_printf(out, "# HELP treecast_link_class_total Failed or "
	    "relayed links by why (README, Failure classes).\n"
	    "# TYPE treecast_link_class_total counter\n");
	for (o = LINK_CLASS_NONE + 1; o < LINK_CLASS_COUNT; o++)
		evbuffer_add_printf(out, "treecast_link_class_total"
		    "{class=\"%s\"} %u\n", link_classes[o], tot[o]);
#define BROKER_METRIC(name, group, key, help)				\
	evbuffer_add_printf(out, "# HELP treecast_broker_" #name "_total "	\
	    help ".\n# TYPE treecast_broker_" #name "_total counter\n"	\
	    "treecast_broker_" #name "_total %" PRIu64 "\n", br->c.name);
	BROKER_COUNTERS(BROKER_METRIC)
#undef BROKER_METRIC
	broker_unlock(br);
	if (br->relay != NULL)
		relay_stats(br->relay, &rs);
#define RELAY_METRIC(name, help)					\
	evbuffer_add_printf(out, "# HELP treecast_relay_" #name "_total "	\
	    help ".\n# TYPE treecast_relay_" #name "_total "			\
	    "counter\ntreecast_relay_" #name "_total %" PRIu64 "\n",	\
	    rs.name);
	RELAY_COUNTERS(RELAY_METRIC)
#undef RELAY_METRIC
}

/* ,"relay":{"enabled":...,"live":n,...}: the relay's figures. */
static void
broker_relay_json(struct evbuffer *out, int enabled,
    const struct relay_stats *rs)
{
	evbuffer_add_printf(out, ",\"relay\":{\"enabled\":%s,\"live\":%u",
	    enabled ? "true" : "false", rs->live);
#define RELAY_JSON(name, help)						\
	evbuffer_add_printf(out, ",\"" #name "\":%" PRIu64, rs->name);
	RELAY_COUNTERS(RELAY_JSON)
#undef RELAY_JSON
	evbuffer_add(out, "}", 1);
}

void
broker_json(struct broker *br, struct evbuffer *out)
{
	static const struct {
		const char	*group, *key;
	} rows[] = {
#define BROKER_JSON_ROW(name, group, key, help)	{ group, key },
		BROKER_COUNTERS(BROKER_JSON_ROW)
#undef BROKER_JSON_ROW
	};
	uint64_t vals[sizeof rows / sizeof rows[0]];
	const char *const *outs = broker_outs;
	struct relay_stats rs = { 0 };
	const uint32_t *p;
	uint32_t total, ok, failed, tot[LINK_CLASS_COUNT];
	unsigned x, y, o;
	size_t k;
	int first = 1;

	if (br->relay != NULL)
		relay_stats(br->relay, &rs);
	broker_lock(br);
	k = 0;
#define BROKER_JSON_VAL(name, group, key, help)	vals[k++] = br->c.name;
	BROKER_COUNTERS(BROKER_JSON_VAL)
#undef BROKER_JSON_VAL
	/* The top's rows (group ""), the relay's, then each group's. */
	evbuffer_add(out, "{", 1);
	for (k = 0; k < sizeof rows / sizeof rows[0]; k++) {
		const char *g = rows[k].group;
		const char *prev = k > 0 ? rows[k - 1].group : "";
		int opens = strcmp(g, prev) != 0;

		if (opens && prev[0] != '\0')
			evbuffer_add(out, "}", 1);
		if (opens && prev[0] == '\0')
			broker_relay_json(out, br->relay != NULL, &rs);
		if (opens)
			evbuffer_add_printf(out, ",\"%s\":{", g);
		evbuffer_add_printf(out, "%s\"%s\":%" PRIu64,
		    k == 0 || opens ? "" : ",", rows[k].key, vals[k]);
	}
	evbuffer_add(out, "}", 1);	/* the last group's */
	evbuffer_add_printf(out, ",\"pairs\":[");
	for (x = 0; x < NAT_CLASS_COUNT; x++) {
		for (y = 0; y < NAT_CLASS_COUNT; y++) {
			p = br->pairs[x][y];
			for (total = 0, o = 0; o < OUT_COUNT; o++)
				total += p[o];
			if (total == 0)
				continue;
			ok = p[OUT_DIRECT] + p[OUT_LOCAL] + p[OUT_RELAY];
			evbuffer_add_printf(out, "%s{\"a\":\"%s\",\"b\":\"%s\","
			    "\"attempts\":%u,\"connected\":%u,"
			    "\"mean_ms\":%.0f", first ? "" : ",",
			    nat_class_label(x), nat_class_label(y), total, ok,
			    ok > 0 ? (double)br->pair_ms[x][y] / ok : 0.0);
			for (o = 0; o < OUT_COUNT; o++)
				if (p[o] > 0)
					evbuffer_add_printf(out, ",\"%s\":%u",
					    outs[o], p[o]);
			/* Classes where the pair had failed or relayed
			 * links. */
			for (failed = 0, o = LINK_CLASS_NONE + 1;
			    o < LINK_CLASS_COUNT; o++)
				failed += br->classes[x][y][o];
			if (failed > 0) {
				evbuffer_add_printf(out, ",\"classes\":");
				broker_class_json(out, br->classes[x][y]);
			}
			evbuffer_add(out, "}", 1);
			first = 0;
		}
	}
	broker_class_totals(br, tot);
	evbuffer_add_printf(out, "],\"classes\":");
	broker_class_json(out, tot);
	evbuffer_add(out, "}", 1);
	broker_unlock(br);
}
