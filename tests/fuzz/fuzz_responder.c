/*
 * fuzz_responder.c - a native responder (R) from its first byte: HS1,
 * then HS3 or ERROR, then records.  Its NEED_KDF is answered with the PRS
 * of handshake 0 of the vectors and it draws the vectors' yb, so the real
 * HS1 and HS3 frames establish it.  The driver and the input format are
 * in fuzz-session.h.
 */
#include "fuzz-session.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fz_session_init_once();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_session_run(FALSE, data, size);
	return 0;
}
