/*
 * fuzz_initiator.c - a native initiator (I) with the vectors' sid, ya,
 * salt and PRS, once it has sent HS1: HS2 or ERROR, then records.  The
 * driver and the input format are in fuzz-session.h.
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
	fz_session_run(TRUE, data, size);
	return 0;
}
