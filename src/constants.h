/*
 * constants.h - every limit of the Parley protocol and plugin, in one place.
 *
 * Section numbers refer to PROTOCOL.md (docs/protocol.md tells the same
 * story in the project's own words).
 */
#ifndef PARLEY_CONSTANTS_H
#define PARLEY_CONSTANTS_H

/* §2 framing */
#define PARLEY_FRAME_HEADER_LEN        4
#define PARLEY_MAX_FRAME               131072u
#define PARLEY_DEFAULT_PORT            5000

/* §3 passphrases and PBKDF2 */
#define PARLEY_SALT_LEN                16
#define PARLEY_PRS_LEN                 32
#define PARLEY_MIN_ITERATIONS          200000u
#define PARLEY_MAX_ITERATIONS          2000000u
#define PARLEY_DEFAULT_ITERATIONS      200000u
#define PARLEY_PRS_CACHE_ENTRIES       16
/* largest PBKDF2 output the worker produces (PRS is 32, classic keys 16) */
#define PARLEY_KDF_MAX_OUT             64

/* §4 handshake */
#define PARLEY_MAGIC                   "PRLY"
#define PARLEY_MAGIC_LEN               4
#define PARLEY_VERSION                 0x02
#define PARLEY_SID_LEN                 16
#define PARLEY_COMMIT_LEN              32   /* SHA-512(...)[0:32] in HS1 */
#define PARLEY_POINT_LEN               32
#define PARLEY_SCALAR_LEN              32
#define PARLEY_TAG_LEN                 64   /* Ta, Tb: HMAC-SHA-512 */
#define PARLEY_ISK_LEN                 64
#define PARLEY_NAME_MAX                64
#define PARLEY_ERROR_REASON_MAX        200
#define PARLEY_HANDSHAKE_TIMEOUT_MS    30000

/* §5 key schedule */
#define PARLEY_KEY_LEN                 32
#define PARLEY_IV_LEN                  12
#define PARLEY_CHAIN_LEN               32
#define PARLEY_CODE_LEN                4

/* §6 records */
#define PARLEY_RECORD_TYPE             0x17
#define PARLEY_RECORD_HEADER_LEN       5
#define PARLEY_GCM_TAG_LEN             16
#define PARLEY_RECORD_MIN_LEN          (PARLEY_RECORD_HEADER_LEN + 1 + PARLEY_GCM_TAG_LEN)
#define PARLEY_MSG_ID_LEN              8
#define PARLEY_MAX_TEXT                65536u
#define PARLEY_PING_IDLE_MS            60000
#define PARLEY_DEAD_PEER_MS            180000
/* a sender rekeys well before seq could reach 2^32 (§6, §8) */
#define PARLEY_SEQ_REKEY_AT            (((guint64) 1 << 32) - 1024)
/* §6: seq MUST NOT reach 2^32 within an epoch - no record is sealed or
 * opened with seq >= this in either direction (the last one is 2^32 - 1) */
#define PARLEY_SEQ_LIMIT               ((guint64) 1 << 32)

/* §7 delivery */
#define PARLEY_SEEN_IDS                256
/* MSG records a sender keeps unacknowledged on one connection; the rest
 * of its outbox follows as ACKs come back.  After a reconnection it resends
 * all of them, and the receiver can only recognise a repeat it still
 * remembers: at most this many - 1 newer messages can have been shown
 * since any resent one, so this must not exceed PARLEY_SEEN_IDS (half, so
 * a peer that remembers slightly fewer is still safe). */
#define PARLEY_MAX_UNACKED             (PARLEY_SEEN_IDS / 2)
#define PARLEY_GIVE_UP_MINUTES         10

/* §8 rekey */
#define PARLEY_REKEY_MESSAGES          20
#define PARLEY_REKEY_MINUTES           60

/* §9 connections and the limits on strangers */
#define PARLEY_MAX_KDF_RUNNING         2
#define PARLEY_MAX_HANDSHAKES          16
#define PARLEY_MAX_HANDSHAKES_PER_ADDR 4
#define PARLEY_FAIL_BACKOFF_CAP_S      300
/* the guard forgets an address's failures after this long without news */
#define PARLEY_FAIL_FORGET_S           86400  /* a day of silence forgets failures */
/* most sources with failures on file or handshakes in progress the guard
 * remembers; none is forgotten to make room: when full, new strangers get
 * ERROR 4 */
#define PARLEY_GUARD_MAX_ADDRS         4096
/* per account, strangers' failed handshakes draw on a token bucket of this
 * many tokens, one token back every PARLEY_STRANGER_REFILL_S: a burst of
 * 10, then 10 a minute, 14 400 a day (docs/security.md) */
#define PARLEY_STRANGER_BUDGET         10
#define PARLEY_STRANGER_REFILL_S       6
/* most friends (sources that completed a handshake since sign-on) the
 * guard remembers; only a passphrase holder adds one, so the least
 * recently proven one makes room */
#define PARLEY_GUARD_MAX_FRIENDS       1024

/* most accepted connections from one source address that have not yet
 * sent an HS1 that was let in (or, in classic mode, finished the
 * handshake); more are closed at once, so that a stranger cannot hold the
 * listener's descriptors for the handshake timeout (plugin; not in §9) */
#define PARLEY_MAX_SILENT_PER_ADDR     8

/* a classic caller (§11) must send a frame that decrypts this long after
 * it was accepted: until then it holds a §9 guard slot, and a stranger is
 * closed when the time is up (plugin; the original tool has no handshake
 * to time) */
#define PARLEY_CLASSIC_PROOF_MS        PARLEY_HANDSHAKE_TIMEOUT_MS

/* out of file descriptors, the listener stops accepting this long (plugin) */
#define PARLEY_ACCEPT_PAUSE_MS         1000

/* reconnection of outgoing connections (plugin) */
#define PARLEY_RETRY_FIRST_S           5
#define PARLEY_RETRY_MAX_S             300

/* §11 classic mode */
#define PARLEY_CLASSIC_KEY_LEN         16
#define PARLEY_CLASSIC_NONCE_LEN       12
#define PARLEY_CLASSIC_ITERATIONS      200000u
#define PARLEY_CLASSIC_REKEY_TAG       "__REKEY__"
#define PARLEY_CLASSIC_REKEY_TAG_LEN   9
#define PARLEY_CLASSIC_REKEY_MESSAGES  20
#define PARLEY_CLASSIC_START_DELAY_MS  2000
#define PARLEY_CLASSIC_KEY_WINDOW      8
/* what a classic peer can make us hold while a new key derives */
#define PARLEY_CLASSIC_MAX_PENDING_KDF PARLEY_CLASSIC_KEY_WINDOW
#define PARLEY_CLASSIC_MAX_QUEUED_RX   (64 * (size_t) PARLEY_MAX_FRAME)

#endif
