/*
 * fuzz_admit.c - the responder's admission of incoming connections
 * (src/admit.c, with the guard it drives), as a script of operations read
 * from the input: connections arrive (native or classic, from addresses of
 * a few hosts and IPv6 /64s, with a listen port and an HS1 sid), get their
 * verdicts, end by every path a connection can end by, the peer table and
 * the account's own sids change, and time passes.
 *
 * Checked after every step, against a model kept here:
 *   - the guard counts exactly the tickets that hold a slot (a slot is
 *     never leaked, never given back twice, whatever order the paths that
 *     end a connection come in);
 *   - never more than PARLEY_MAX_HANDSHAKES in all, or
 *     PARLEY_MAX_HANDSHAKES_PER_ADDR from one source, are held;
 *   - an own sid is always refused with LOOPBACK, and nothing is held then;
 *   - a refusal leaves the ticket empty;
 *   - a matched peer lives on the caller's host (by host key), has the
 *     announced listen port when one was given (native), and a stranger is
 *     never refused for a reason other than the buddy-entry rule;
 *   - the source of an address of one /64, or of a v4-mapped address, is
 *     that of its /64 or IPv4 address.
 * At the end every ticket is cleared and the guard holds nothing.
 *
 * Input: a sequence of 4-byte operations (op, a, b, c); see step().
 */
#include "fuzz-common.h"

#include "address.h"
#include "admit.h"

#define N_TICKETS 24
#define N_PEERS   8

/* The hosts connections come from: a few IPv4, one of them also spelt as
 * v4-mapped IPv6, and addresses of two IPv6 /64s. */
static const char *const hosts[] = {
	"192.0.2.1", "192.0.2.2", "::ffff:192.0.2.1", "198.51.100.7",
	"2001:db8:1:1::1", "2001:db8:1:1::2", "2001:db8:1:1:ffff::9", "2001:db8:1:2::1",
	"127.0.0.1", "::1",
};
/* The source each of them counts as (§9). */
static const char *const sources[] = {
	"192.0.2.1", "192.0.2.2", "192.0.2.1", "198.51.100.7",
	"2001:db8:1:1::/64", "2001:db8:1:1::/64", "2001:db8:1:1::/64", "2001:db8:1:2::/64",
	"127.0.0.1", "::/64",
};
/* Names peers may have (buddy names are addresses). */
static const char *const names[] = {
	"192.0.2.1", "192.0.2.1:5001", "192.0.2.2", "[2001:db8:1:1::1]:5002",
	"2001:db8:1:1::2", "localhost:5003", "peer.example", "198.51.100.7:5000",
};
static const guint16 ports[] = { 0, 5000, 5001, 5002, 5003, 6000 };

typedef struct {
	gboolean live;
	ParleyAdmitTicket t;
	guint host;                 /* index into hosts */
} Conn;

typedef struct {
	gboolean live;
	char *key;
	guint16 port;
	gboolean buddy;
} Peer;

static void
build_table(const Peer *peers, ParleyAdmitPeer *out, guint *n)
{
	*n = 0;
	for (guint i = 0; i < N_PEERS; i++) {
		if (!peers[i].live)
			continue;
		out[*n].host_key = peers[i].key;
		out[*n].port = peers[i].port;
		out[*n].buddy = peers[i].buddy;
		out[*n].id = i;
		(*n)++;
	}
}

static guint
held_from(const Conn *conns, const char *source)
{
	guint n = 0;

	for (guint i = 0; i < N_TICKETS; i++)
		if (conns[i].live && conns[i].t.holding && strcmp(conns[i].t.source, source) == 0)
			n++;
	return n;
}

static void
check_model(ParleyAdmission *a, const Conn *conns)
{
	guint held = 0;

	for (guint i = 0; i < N_TICKETS; i++) {
		if (!conns[i].live)
			continue;
		held += conns[i].t.holding;
		if (conns[i].t.holding)
			FZ_CHECK(held_from(conns, conns[i].t.source) <= PARLEY_MAX_HANDSHAKES_PER_ADDR);
	}
	FZ_CHECK(parley_guard_in_progress(parley_admission_guard(a)) == held);
	FZ_CHECK(held <= PARLEY_MAX_HANDSHAKES);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_init();
	/* the source of every host is what §9 says */
	for (guint i = 0; i < G_N_ELEMENTS(hosts); i++) {
		char *s = parley_admit_source(hosts[i]);

		FZ_CHECK(s != NULL && strcmp(s, sources[i]) == 0);
		g_free(s);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ParleyAdmission *a = parley_admission_new();
	Conn conns[N_TICKETS];
	Peer peers[N_PEERS];
	uint8_t own[4][PARLEY_SID_LEN];
	gboolean own_live[4] = { FALSE, FALSE, FALSE, FALSE };
	gint64 now = 1000000;
	size_t pos;

	memset(conns, 0, sizeof(conns));
	memset(peers, 0, sizeof(peers));
	for (guint i = 0; i < 4; i++)
		memset(own[i], 0xa0 + i, PARLEY_SID_LEN);

	for (pos = 0; pos + 4 <= size; pos += 4) {
		uint8_t op = data[pos], x = data[pos + 1], y = data[pos + 2], z = data[pos + 3];
		Conn *c = &conns[x % N_TICKETS];

		switch (op % 8) {
		case 0: {               /* a connection arrives */
			ParleyAdmitPeer table[N_PEERS];
			guint n, h = y % G_N_ELEMENTS(hosts);
			ParleyAdmitMode mode = z & 1 ? PARLEY_ADMIT_CLASSIC : PARLEY_ADMIT_NATIVE;
			guint16 port = ports[(z >> 1) % G_N_ELEMENTS(ports)];
			uint8_t sid[PARLEY_SID_LEN];
			gboolean is_own = (z & 0x40) && own_live[(z >> 4) & 3];
			ParleyError err;
			char *key;

			if (c->live)
				break;
			memset(sid, z, sizeof(sid));
			if (is_own)
				memcpy(sid, own[(z >> 4) & 3], sizeof(sid));
			else
				sid[0] = 0x55;          /* never an own sid's first byte */
			build_table(peers, table, &n);
			err = parley_admission_admit(a, mode, hosts[h], port, sid, table, n, now, &c->t);
			if (is_own && mode == PARLEY_ADMIT_NATIVE)
				FZ_CHECK(err == PARLEY_ERR_LOOPBACK);
			if (err != PARLEY_ERR_NONE) {
				FZ_CHECK(c->t.source == NULL && !c->t.holding && !c->t.matched);
				FZ_CHECK(err == PARLEY_ERR_BUSY || err == PARLEY_ERR_REFUSED ||
				         err == PARLEY_ERR_LOOPBACK);
				/* refused by the buddy-entry rule: only a native
				 * caller without a listen port */
				if (err == PARLEY_ERR_REFUSED)
					FZ_CHECK(mode == PARLEY_ADMIT_NATIVE && port == 0);
				break;
			}
			c->live = TRUE;
			c->host = h;
			FZ_CHECK(c->t.holding && strcmp(c->t.source, sources[h]) == 0);
			key = parley_address_host_key(hosts[h]);
			if (c->t.matched) {
				FZ_CHECK(c->t.match < N_PEERS && peers[c->t.match].live);
				FZ_CHECK(strcmp(peers[c->t.match].key, key) == 0);
				if (mode == PARLEY_ADMIT_NATIVE && port != 0)
					FZ_CHECK(peers[c->t.match].port == port);
			} else if (mode == PARLEY_ADMIT_NATIVE && port != 0) {
				for (guint i = 0; i < N_PEERS; i++)
					FZ_CHECK(!peers[i].live || strcmp(peers[i].key, key) != 0 ||
					         peers[i].port != port);
			}
			g_free(key);
			break;
		}
		case 1:                 /* the verdict */
			if (c->live)
				parley_admission_finish(a, &c->t, (ParleyGuardOutcome) (y % 3), now);
			break;
		case 2:                 /* the connection ends (every path) */
			if (!c->live)
				break;
			if (y & 1)
				parley_admission_finish(a, &c->t, PARLEY_GUARD_ABORTED, now);
			parley_admit_ticket_clear(a, &c->t, now);
			parley_admit_ticket_clear(a, &c->t, now);
			FZ_CHECK(c->t.source == NULL && !c->t.holding);
			c->live = FALSE;
			break;
		case 3: {               /* a peer is added or replaced */
			Peer *p = &peers[x % N_PEERS];
			char *host;
			guint16 port;

			g_free(p->key);
			FZ_CHECK(parley_address_parse(names[y % G_N_ELEMENTS(names)], &host, &port,
			                              NULL));
			p->key = parley_address_host_key(host);
			p->port = port;
			p->buddy = z & 1;
			p->live = TRUE;
			g_free(host);
			break;
		}
		case 4: {               /* a peer goes */
			Peer *p = &peers[x % N_PEERS];

			g_clear_pointer(&p->key, g_free);
			p->live = FALSE;
			/* connections matched to it stay matched to its id;
			 * the glue destroys them, which case 2 plays */
			break;
		}
		case 5:                 /* an own handshake starts or ends */
			if (own_live[x & 3])
				parley_admission_remove_own_sid(a, own[x & 3]);
			else
				parley_admission_add_own_sid(a, own[x & 3]);
			own_live[x & 3] = !own_live[x & 3];
			break;
		case 6:                 /* time passes: up to about 18 minutes */
			now += ((gint64) y << 8 | z) * 17;
			break;
		case 7:                 /* ask whether a KDF may start */
			if (c->live) {
				gboolean may = parley_admit_may_derive(&c->t, y % 4);

				FZ_CHECK(may == (c->t.proven || y % 4 < PARLEY_MAX_KDF_RUNNING));
			}
			FZ_CHECK(parley_admit_may_derive(NULL, y));
			break;
		}
		check_model(a, conns);
	}

	for (guint i = 0; i < N_TICKETS; i++)
		if (conns[i].live)
			parley_admit_ticket_clear(a, &conns[i].t, now);
	FZ_CHECK(parley_guard_in_progress(parley_admission_guard(a)) == 0);
	for (guint i = 0; i < N_PEERS; i++)
		g_free(peers[i].key);
	parley_admission_free(a);
	return 0;
}
