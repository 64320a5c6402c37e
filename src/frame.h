/*
 * frame.h - §2 framing: 4-byte big-endian length, then the payload.
 *
 * The reader reassembles frames incrementally from reads of any size.  It
 * holds at most one header and one frame: a header announcing 0 or more
 * than PARLEY_MAX_FRAME bytes is refused before any payload is buffered,
 * and the reader stays failed from then on.
 */
#ifndef PARLEY_FRAME_H
#define PARLEY_FRAME_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
	PARLEY_FRAME_NEED_MORE,   /* consumed everything given, no frame yet */
	PARLEY_FRAME_READY,       /* a whole frame is available */
	PARLEY_FRAME_BAD_LENGTH   /* header of 0 or > MAX_FRAME: close */
} ParleyFrameStatus;

typedef struct {
	uint8_t header[4];
	size_t header_have;
	uint32_t length;          /* announced payload length, once known */
	uint8_t *payload;         /* allocated at length once the header is valid */
	size_t payload_have;
	gboolean failed;
} ParleyFrameReader;

void parley_frame_reader_init(ParleyFrameReader *r);
/* Wipes and frees any buffered payload. */
void parley_frame_reader_clear(ParleyFrameReader *r);

/* Consume bytes from data (at most len).  *consumed tells how many were
 * used: the reader stops right after a complete frame so the caller can
 * handle it before feeding the rest.  On PARLEY_FRAME_READY, *payload and
 * *payload_len point at the frame - inside data when it arrived whole, else
 * inside the reader - valid until the next call to parley_frame_reader_feed
 * or _clear and as long as data is. */
ParleyFrameStatus parley_frame_reader_feed(ParleyFrameReader *r,
                                           const uint8_t *data, size_t len,
                                           size_t *consumed,
                                           const uint8_t **payload,
                                           size_t *payload_len);

/* Append one frame (header + payload) to out.  len must be 1..MAX_FRAME. */
void parley_frame_write(GByteArray *out, const void *payload, size_t len);

/* Put/get big-endian integers. */
void parley_put_be32(uint8_t *p, uint32_t v);
void parley_put_be16(uint8_t *p, uint16_t v);
void parley_put_be64(uint8_t *p, uint64_t v);
uint32_t parley_get_be32(const uint8_t *p);
uint16_t parley_get_be16(const uint8_t *p);
uint64_t parley_get_be64(const uint8_t *p);

#endif
