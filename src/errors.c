/*
 * errors.c - the sentences behind ParleyError.
 *
 * The strings are marked for xgettext with N_() and returned untranslated;
 * the purple glue passes them through dgettext(GETTEXT_PACKAGE, ...), so
 * this layer needs no gettext at run time.
 */
#include "errors.h"

#define N_(s) (s)

const char *
parley_strerror(ParleyError err)
{
	switch (err) {
	case PARLEY_ERR_NONE:
		return N_("No error.");
	case PARLEY_ERR_VERSION:
		return N_("The two programs speak different versions of the Parley protocol.");
	case PARLEY_ERR_MALFORMED:
		return N_("A malformed or invalid message was received; the connection was closed.");
	case PARLEY_ERR_AUTH:
		return N_("The passphrases do not match.");
	case PARLEY_ERR_BUSY:
		return N_("The peer is busy or refusing connections for a while; try again later.");
	case PARLEY_ERR_LOOPBACK:
		return N_("This connection leads back to this same program: it was talking to itself.");
	case PARLEY_ERR_REFUSED:
		return N_("The peer refused the connection.");
	case PARLEY_ERR_LOCAL:
		return N_("An internal error occurred.");
	case PARLEY_ERR_FRAME_LENGTH:
		return N_("The peer sent a message with an impossible length; the connection was closed.");
	case PARLEY_ERR_RECORD:
		return N_("A message failed its integrity check (tampering or a network fault); the connection was closed.");
	case PARLEY_ERR_PROTOCOL:
		return N_("The peer broke the protocol; the connection was closed.");
	case PARLEY_ERR_TIMEOUT:
		return N_("The secure connection could not be set up in time.");
	case PARLEY_ERR_PEER_DEAD:
		return N_("Nothing has been heard from the peer for too long; the connection was closed.");
	case PARLEY_ERR_BYE:
		return N_("The peer ended the conversation.");
	case PARLEY_ERR_CLOSED:
		return N_("The peer closed the connection.");
	case PARLEY_ERR_TEXT_TOO_LONG:
		return N_("The message is too long to send (the limit is 65,536 bytes).");
	case PARLEY_ERR_PASSPHRASE_EMPTY:
		return N_("No passphrase is set; enter one before connecting.");
	case PARLEY_ERR_NOT_LATIN1:
		return N_("Classic mode cannot use this passphrase: it contains a character the original tool cannot encode (above U+00FF).");
	case PARLEY_ERR_NAME:
		return N_("The account name must be between 1 and 64 bytes of text.");
	case PARLEY_ERR_STATE:
		return N_("This action is not possible at this point of the conversation.");
	}
	return N_("An unknown error occurred.");
}
