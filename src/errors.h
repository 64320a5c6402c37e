/*
 * errors.h - the small error vocabulary of the core, and its sentences.
 *
 * The first six values are the wire ERROR codes of PROTOCOL.md §4, so a
 * ParleyError below PARLEY_ERR_LOCAL can be sent and received as is.
 */
#ifndef PARLEY_ERRORS_H
#define PARLEY_ERRORS_H

typedef enum {
	PARLEY_ERR_NONE = 0,
	PARLEY_ERR_VERSION = 1,         /* unsupported version */
	PARLEY_ERR_MALFORMED = 2,       /* malformed or invalid message */
	PARLEY_ERR_AUTH = 3,            /* passphrases differ */
	PARLEY_ERR_BUSY = 4,            /* busy or rate-limited */
	PARLEY_ERR_LOOPBACK = 5,        /* connected to ourselves */
	PARLEY_ERR_REFUSED = 6,         /* peer refused */
	PARLEY_ERR_LOCAL = 64,          /* below: never on the wire */
	PARLEY_ERR_FRAME_LENGTH,        /* frame header 0 or over MAX_FRAME */
	PARLEY_ERR_RECORD,              /* record failed authentication / order */
	PARLEY_ERR_PROTOCOL,            /* authenticated record with bad content */
	PARLEY_ERR_TIMEOUT,             /* handshake not finished in time */
	PARLEY_ERR_PEER_DEAD,           /* nothing received for too long */
	PARLEY_ERR_BYE,                 /* peer said goodbye */
	PARLEY_ERR_CLOSED,              /* connection closed by the peer */
	PARLEY_ERR_TEXT_TOO_LONG,       /* message over 65536 bytes */
	PARLEY_ERR_PASSPHRASE_EMPTY,
	PARLEY_ERR_NOT_LATIN1,          /* classic: character above U+00FF */
	PARLEY_ERR_NAME,                /* account name not 1..64 bytes UTF-8 */
	PARLEY_ERR_STATE                /* call not valid in this state */
} ParleyError;

/* A sentence a user understands (English; the glue translates it). */
const char *parley_strerror(ParleyError err);

#endif
