/*
 * rawpeer.h - a Parley peer written straight on sockets, for end-to-end
 * tests that play a hostile or hand-made peer against the plugins running
 * in the headless host (host.c).
 *
 * Everything runs on the GLib main loop the host iterates: sockets are
 * non-blocking and watched with g_unix_fd_add(), so the loop wakes up when
 * the plugin answers, and no thread ever touches libpurple.  The wire is
 * spoken with the protocol core's own pieces (handshake.h, record.h), so a
 * test knows every key of its side and can seal, tamper or replay records
 * at will.
 *
 * Ownership: raw_connect() returns a RawConn the caller frees with
 * raw_close() (which also closes the socket).  raw_take_frame() returns a
 * GByteArray the caller unrefs.  A RawSession is embedded in the caller's
 * memory: raw_session_init() it, raw_session_clear() it (that wipes its
 * keys; the RawConn it was given stays the caller's).
 */
#ifndef PARLEY_TEST_RAWPEER_H
#define PARLEY_TEST_RAWPEER_H

#include <glib.h>
#include <stdint.h>

#include "constants.h"
#include "handshake.h"
#include "record.h"

/* ---- a TCP connection to a Parley listener ------------------------------- */

typedef struct {
	int fd;                     /* -1 once closed by us */
	guint watch;                /* the read watch, 0 once EOF was seen */
	GByteArray *in;             /* received and not yet taken */
	gboolean eof;               /* the other side closed (or reset) */
	gint64 opened_ms;           /* monotonic ms of the connect */
	gint64 eof_ms;              /* when EOF was seen */
	gsize received;             /* bytes received in all */
} RawConn;

/* Connect to 127.0.0.1:port from src_ip (any 127/8 address; NULL means the
 * system's choice), blocking only for the loopback connect itself.  NULL
 * (with a test message) if that failed. */
RawConn *raw_connect(const char *src_ip, guint16 port);
/* The same to dst_ip (numeric, IPv4 or IPv6) from src_ip (numeric, the
 * same family; NULL: the system's choice).  An IPv6 source need not be
 * configured, only routed to lo (IPV6_FREEBIND): test-sources.c binds
 * any address of a documentation prefix inside its network namespace. */
RawConn *raw_connect_ip(const char *src_ip, const char *dst_ip, guint16 port);
/* Write all of data, waiting briefly for room when needed.  FALSE if the
 * connection is broken (the plugin closed it): hostile tests expect that. */
gboolean raw_send(RawConn *c, const void *data, size_t len);
/* Close (if still open) and free; NULL is fine. */
void raw_close(RawConn *c);
/* Shut the write side only: the plugin reads EOF, we can still read. */
void raw_shutdown_write(RawConn *c);

/* The payload of the next complete frame in c->in, taken out of it, or
 * NULL if none is complete yet.  A header above PARLEY_MAX_FRAME is not a
 * frame a Parley peer sends: it is returned as-is (the 4 bytes) to let the
 * test fail on it instead of waiting. */
GByteArray *raw_take_frame(RawConn *c);
/* Iterate the main loop until a frame arrives (returned, caller unrefs),
 * EOF (NULL) or timeout_ms passed (NULL). */
GByteArray *raw_wait_frame(RawConn *c, guint timeout_ms);
/* Iterate the main loop until the other side has closed, or timeout.
 * Whatever else arrives stays in c->in. */
gboolean raw_wait_eof(RawConn *c, guint timeout_ms);

/* The code of an ERROR frame ("PRLY" ?? 7F code ...), or -1 if the payload
 * is not one. */
int raw_error_code(const GByteArray *payload);

/* A frame: 4-byte big-endian length, then payload. Caller unrefs. */
GByteArray *raw_frame(const void *payload, size_t len);
/* An HS1 payload built by hand (§4): version and type as given, a random
 * sid, the given commitment (NULL: 32 random bytes, which no Ya will
 * match), salt, iterations, listen port and name. Caller unrefs. */
GByteArray *raw_hs1_payload(uint8_t version, const uint8_t commit[PARLEY_COMMIT_LEN],
                            const uint8_t salt[PARLEY_SALT_LEN], guint32 iterations,
                            guint16 listen_port, const char *name);

/* ---- a native session, initiator side, keys in the test's hands ------------ */

/* §6 inner record types */
enum {
	RAW_MSG = 0x01,
	RAW_ACK = 0x02,
	RAW_TYPING = 0x03,
	RAW_REKEY = 0x04,
	RAW_REKEY_ACK = 0x05,
	RAW_PING = 0x06,
	RAW_PONG = 0x07,
	RAW_BYE = 0x08
};

typedef enum {
	RAW_REPLY_NONE,             /* nothing yet (timeout) */
	RAW_REPLY_HS2,              /* HS2 arrived (kept in the session) */
	RAW_REPLY_ERROR,            /* an ERROR frame: see error_code */
	RAW_REPLY_CLOSED,           /* closed without an ERROR */
	RAW_REPLY_OTHER             /* something that is neither */
} RawReply;

typedef struct {
	RawConn *conn;              /* not owned */
	ParleyHandshake hs;
	gboolean hs_live;           /* hs needs clearing */
	GByteArray *hs2;            /* the HS2 payload, once received */
	int error_code;             /* ERROR code received, or -1 */
	gboolean established;
	char code[8];
	/* §6 records: we are I, so we send with the I->R keys */
	ParleyRecordDir send;
	ParleyRecordDir recv;
	ParleyRecordDir recv_next;
	uint8_t chain[PARLEY_CHAIN_LEN];
	uint8_t *rekey_e;           /* our pending REKEY's scalar, or NULL */
	gboolean closed;            /* BYE received, or a record we could not open */
	/* what arrived, for the test to look at */
	GPtrArray *messages;        /* char*, texts of MSG records, in order */
	guint acks;                 /* ACK records received */
	guint rekeys;               /* REKEYs the plugin asked for and we answered */
	/* every key this side has held (ParleyEpochKeys*, plus the 32-byte
	 * rekey dh values as GBytes in dh), for tests that look for them in
	 * logs */
	GPtrArray *epoch_keys;
	GPtrArray *dh;
} RawSession;

void raw_session_init(RawSession *s, RawConn *conn);
void raw_session_clear(RawSession *s);

/* §4 as I: build HS1 for these inputs with prs and send it. */
void raw_session_send_hs1(RawSession *s, const char *name, guint16 listen_port,
                          const uint8_t salt[PARLEY_SALT_LEN], guint32 iterations,
                          const uint8_t prs[PARLEY_PRS_LEN]);
/* Wait for the answer to HS1. */
RawReply raw_session_wait_reply(RawSession *s, guint timeout_ms);
/* After RAW_REPLY_HS2: send HS3 (Ya, Ta), wait for HS4 and verify Tb,
 * derive the epoch-0 keys.  PARLEY_ERR_AUTH when the passphrases differ
 * (R answered ERROR 3, or Tb did not verify); PARLEY_ERR_CLOSED when no
 * answer came. */
ParleyError raw_session_finish(RawSession *s);
/* The whole handshake; TRUE once established. */
gboolean raw_session_handshake(RawSession *s, const char *name, guint16 listen_port,
                               const uint8_t salt[PARLEY_SALT_LEN], guint32 iterations,
                               const uint8_t prs[PARLEY_PRS_LEN], guint timeout_ms);

/* Seal one record (inner type, body) under our send keys, append the whole
 * frame to out (nothing is sent: the test may tamper with it first). */
void raw_session_seal(RawSession *s, uint8_t type, const void *body, size_t len,
                      GByteArray *out);
/* Seal and send a MSG with a random msg_id. */
gboolean raw_session_send_msg(RawSession *s, const char *text);
/* Handle every complete record received so far, as an honest peer would:
 * MSG is kept and ACKed, REKEY answered (keys ratcheted), PING answered.
 * A record that does not open marks the session closed. */
void raw_session_pump(RawSession *s);
/* Iterate the main loop (pumping) until cond(s) or timeout. */
typedef gboolean (*RawSessionCond)(RawSession *s, gpointer data);
gboolean raw_session_run_until(RawSession *s, RawSessionCond cond, gpointer data,
                               guint timeout_ms);

/* ---- odds and ends ------------------------------------------------------- */

/* PBKDF2 of a UTF-8 passphrase as §3 wants it (NFC). */
void raw_prs(const char *passphrase, const uint8_t salt[PARLEY_SALT_LEN],
             guint32 iterations, uint8_t prs[PARLEY_PRS_LEN]);

#endif
