/*
 * buddy_passphrase.h - a buddy's own passphrase (PROTOCOL.md §4: used
 * with that peer instead of the account's): where it is kept, the "Set
 * passphrase..." dialog, and asking for one that is not remembered.
 *
 * A buddy's own passphrase is either remembered - the blist setting
 * PARLEY_BUDDY_PASSPHRASE, in clear text in blist.xml, as Parley always
 * kept it - or not: then it lives in secure memory only (per account,
 * keyed by buddy name), until the account signs off or the plugin is
 * unloaded, and the buddy carries the non-secret blist flag
 * PARLEY_BUDDY_PASSPHRASE_NOT_REMEMBERED, so that after a restart Parley
 * asks for it instead of using the account's passphrase.  Asking is a
 * masked purple_request_fields dialog, one at a time per buddy; a Cancel
 * holds until the user writes to the buddy or asks to reconnect.
 *
 * Ownership: this module owns the passphrases it holds in memory and the
 * dialogs it opens (closed by parley_buddy_passphrase_forget_account at
 * sign-off).  Strings it returns belong to it or to libpurple and are
 * valid until the next change of that buddy's passphrase; never log them.
 * Only the purple glue (account.c, prpl.c) calls it.
 */
#ifndef PARLEY_BUDDY_PASSPHRASE_H
#define PARLEY_BUDDY_PASSPHRASE_H

#include <glib.h>
#include <purple.h>

/* The passphrase for a session with who (a buddy's name; NULL or no buddy:
 * a stranger): its own - given for this run, else remembered - else the
 * account's.  NULL when the buddy has its own passphrase that is not
 * remembered and has not been given since sign-on: then no handshake may
 * run with it (call parley_buddy_passphrase_needed). */
const char *parley_buddy_passphrase_get(PurpleAccount *account, const char *who);

/* A session with who needs its passphrase and _get returned NULL: ask the
 * user (once: while the dialog is open, or after a Cancel, nothing more is
 * asked).  calling: the need comes from a peer that called us and was
 * turned away, which the conversation says once per dialog.  When the user
 * answers, parley_account_passphrase_changed() dials the buddy. */
void parley_buddy_passphrase_needed(PurpleAccount *account, const char *who,
                                    gboolean calling);

/* The user wrote to who, or chose Reconnect: after a Cancel, the next need
 * asks again. */
void parley_buddy_passphrase_retry(PurpleAccount *account, const char *who);

/* The buddy menu's "Set passphrase...": the passphrase (masked; empty: the
 * account's) and "Remember this passphrase". */
void parley_buddy_passphrase_dialog(PurpleBuddy *buddy);

/* The buddy was removed: wipe what is held for it, close its dialogs. */
void parley_buddy_passphrase_forget(PurpleAccount *account, const char *who);
/* The account signs off: wipe every passphrase held for it and close its
 * dialogs (a Cancel is forgotten too: the next sign-on asks again). */
void parley_buddy_passphrase_forget_account(PurpleAccount *account);
/* The plugin is unloaded: the same for every account. */
void parley_buddy_passphrase_shutdown(void);

#endif
