/*
 * frame.c - §2 framing: incremental reassembly with a hard size limit.
 */
#include "frame.h"

#include <string.h>

#include "constants.h"
#include "crypto.h"

void
parley_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) (v >> 8);
	p[1] = (uint8_t) v;
}

void
parley_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

void
parley_put_be64(uint8_t *p, uint64_t v)
{
	parley_put_be32(p, (uint32_t) (v >> 32));
	parley_put_be32(p + 4, (uint32_t) v);
}

uint16_t
parley_get_be16(const uint8_t *p)
{
	return (uint16_t) ((p[0] << 8) | p[1]);
}

uint32_t
parley_get_be32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
	       ((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

uint64_t
parley_get_be64(const uint8_t *p)
{
	return ((uint64_t) parley_get_be32(p) << 32) | parley_get_be32(p + 4);
}

void
parley_frame_reader_init(ParleyFrameReader *r)
{
	memset(r, 0, sizeof(*r));
}

static void
drop_payload(ParleyFrameReader *r)
{
	if (r->payload != NULL) {
		/* Frames carry ciphertext, but classic salts and handshake
		 * fields pass here too: wipe rather than think about it. */
		parley_wipe(r->payload, r->length);
		g_free(r->payload);
		r->payload = NULL;
	}
	r->payload_have = 0;
}

void
parley_frame_reader_clear(ParleyFrameReader *r)
{
	drop_payload(r);
	memset(r, 0, sizeof(*r));
}

ParleyFrameStatus
parley_frame_reader_feed(ParleyFrameReader *r, const uint8_t *data, size_t len,
                         size_t *consumed, const uint8_t **payload,
                         size_t *payload_len)
{
	size_t used = 0;

	*consumed = 0;
	*payload = NULL;
	*payload_len = 0;
	if (r->failed)
		return PARLEY_FRAME_BAD_LENGTH;

	/* The previous frame was handed out: its buffer is ours again. */
	if (r->payload != NULL && r->payload_have == r->length) {
		drop_payload(r);
		r->header_have = 0;
		r->length = 0;
	}

	while (r->header_have < PARLEY_FRAME_HEADER_LEN && used < len)
		r->header[r->header_have++] = data[used++];
	if (r->header_have < PARLEY_FRAME_HEADER_LEN) {
		*consumed = used;
		return PARLEY_FRAME_NEED_MORE;
	}

	if (r->payload == NULL) {
		uint32_t n = parley_get_be32(r->header);

		/* Refuse before allocating anything (§2). */
		if (n == 0 || n > PARLEY_MAX_FRAME) {
			r->failed = TRUE;
			*consumed = used;
			return PARLEY_FRAME_BAD_LENGTH;
		}
		/* The whole frame is already in the caller's buffer: hand it
		 * out from there, no copy. */
		if (len - used >= n) {
			r->header_have = 0;
			*consumed = used + n;
			*payload = data + used;
			*payload_len = n;
			return PARLEY_FRAME_READY;
		}
		r->length = n;
		r->payload = g_malloc(n);
		r->payload_have = 0;
	}

	{
		size_t want = r->length - r->payload_have;
		size_t take = MIN(want, len - used);

		memcpy(r->payload + r->payload_have, data + used, take);
		r->payload_have += take;
		used += take;
	}
	*consumed = used;
	if (r->payload_have < r->length)
		return PARLEY_FRAME_NEED_MORE;

	*payload = r->payload;
	*payload_len = r->length;
	return PARLEY_FRAME_READY;
}

void
parley_frame_write(GByteArray *out, const void *payload, size_t len)
{
	uint8_t hdr[PARLEY_FRAME_HEADER_LEN];

	g_return_if_fail(len >= 1 && len <= PARLEY_MAX_FRAME);
	parley_put_be32(hdr, (uint32_t) len);
	g_byte_array_append(out, hdr, sizeof(hdr));
	g_byte_array_append(out, payload, (guint) len);
}
