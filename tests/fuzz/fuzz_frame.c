/*
 * fuzz_frame.c - the §2 frame reader (src/frame.c), fed a byte stream in
 * chunks whose sizes come from the input, against a model that parses the
 * whole stream at once.
 *
 * Input: cfg (1) | sizes (cfg & 0x0f bytes) | [fill (3) if cfg & 0x80] | data
 *   - each size byte is the length of the next chunk (cycled); 0 means an
 *     empty feed followed by a 1-byte chunk, >= 0xf0 means "all the rest";
 *   - fill = count (2, big-endian) and a byte value: count * 3 copies of
 *     the value are appended to data, so a frame up to MAX_FRAME can be
 *     completed from a small input.
 *
 * Checked after every call: the reader hands out exactly the model's
 * frames, in order, byte for byte; it refuses a header of 0 or more than
 * MAX_FRAME right after its fourth byte, with nothing allocated, and stays
 * failed; NEED_MORE consumes everything given; it never holds more than
 * the header and one frame; and what is left buffered at the end is the
 * model's unfinished tail.  The frames written back with
 * parley_frame_write() give the stream again.
 */
#include "fuzz-common.h"

typedef struct {
	size_t start;               /* offset of the payload in the stream */
	uint32_t len;
} ModelFrame;

typedef struct {
	GArray *frames;             /* ModelFrame */
	gboolean bad;               /* a refused header ... */
	size_t bad_end;             /* ... whose last byte ends here */
	size_t done;                /* end of the last whole frame */
} Model;

static void
model_parse(Model *m, const uint8_t *s, size_t n)
{
	size_t pos = 0;

	m->frames = g_array_new(FALSE, FALSE, sizeof(ModelFrame));
	m->bad = FALSE;
	while (n - pos >= PARLEY_FRAME_HEADER_LEN) {
		uint32_t len = parley_get_be32(s + pos);
		ModelFrame f;

		if (len == 0 || len > PARLEY_MAX_FRAME) {
			m->bad = TRUE;
			m->bad_end = pos + PARLEY_FRAME_HEADER_LEN;
			break;
		}
		if (n - pos - PARLEY_FRAME_HEADER_LEN < len)
			break;
		f.start = pos + PARLEY_FRAME_HEADER_LEN;
		f.len = len;
		g_array_append_val(m->frames, f);
		pos = f.start + len;
	}
	m->done = pos;
}

static void
check_reader_shape(const ParleyFrameReader *r)
{
	FZ_CHECK(r->header_have <= PARLEY_FRAME_HEADER_LEN);
	if (r->payload != NULL) {
		FZ_CHECK(r->length >= 1 && r->length <= PARLEY_MAX_FRAME);
		FZ_CHECK(r->payload_have <= r->length);
		FZ_CHECK(r->header_have == PARLEY_FRAME_HEADER_LEN);
	} else {
		FZ_CHECK(r->payload_have == 0);
	}
	if (r->failed)
		FZ_CHECK(r->payload == NULL);
}

/* Byte helpers of frame.h: put/get round trips. */
static void
check_be(const uint8_t *d, size_t n)
{
	uint8_t b[8] = { 0 };
	uint8_t o[8];

	if (n > 0)
		memcpy(b, d, MIN(n, sizeof(b)));
	parley_put_be64(o, parley_get_be64(b));
	FZ_CHECK(memcmp(o, b, 8) == 0);
	parley_put_be32(o, parley_get_be32(b));
	FZ_CHECK(memcmp(o, b, 4) == 0);
	parley_put_be16(o, parley_get_be16(b));
	FZ_CHECK(memcmp(o, b, 2) == 0);
	FZ_CHECK(parley_get_be32(b) == ((uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 |
	                                (uint32_t) b[2] << 8 | b[3]));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fz_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FzIn in = { data, size };
	guint cfg = fz_u8(&in);
	size_t nsizes = cfg & 0x0f, got, off = 0, si = 0;
	const uint8_t *sizes = fz_take(&in, nsizes, &nsizes);
	GByteArray *stream = g_byte_array_new();
	GByteArray *again = g_byte_array_new();
	ParleyFrameReader r;
	Model m;
	guint next = 0;
	gboolean failed = FALSE;

	if (cfg & 0x80) {
		size_t count = fz_u16(&in) * (size_t) 3;
		uint8_t value = (uint8_t) fz_u8(&in);
		const uint8_t *rest = fz_take(&in, in.n, &got);

		g_byte_array_append(stream, rest, (guint) got);
		if (count > 0) {
			g_byte_array_set_size(stream, (guint) (got + count));
			memset(stream->data + got, value, count);
		}
	} else {
		const uint8_t *rest = fz_take(&in, in.n, &got);

		g_byte_array_append(stream, rest, (guint) got);
	}
	check_be(stream->data, stream->len);
	model_parse(&m, stream->data, stream->len);
	parley_frame_reader_init(&r);

	while (off < stream->len && !failed) {
		guint sb = nsizes > 0 ? sizes[si++ % nsizes] : 0xff;
		size_t want = sb >= 0xf0 ? stream->len - off : sb;
		size_t clen, used = 0;
		uint8_t *chunk;

		if (want == 0) {
			/* an empty read: nothing changes */
			size_t consumed;
			const uint8_t *pl;
			size_t plen;
			ParleyFrameStatus st;

			st = parley_frame_reader_feed(&r, stream->data + off, 0,
			                              &consumed, &pl, &plen);
			FZ_CHECK(st == PARLEY_FRAME_NEED_MORE && consumed == 0 && pl == NULL);
			check_reader_shape(&r);
			want = 1;
		}
		clen = MIN(want, stream->len - off);
		chunk = fz_dup(stream->data + off, clen);

		while (used < clen) {
			size_t consumed;
			const uint8_t *pl;
			size_t plen;
			ParleyFrameStatus st;

			st = parley_frame_reader_feed(&r, chunk + used, clen - used,
			                              &consumed, &pl, &plen);
			FZ_CHECK(consumed <= clen - used);
			used += consumed;
			check_reader_shape(&r);
			if (st == PARLEY_FRAME_NEED_MORE) {
				FZ_CHECK(used == clen && pl == NULL && plen == 0);
			} else if (st == PARLEY_FRAME_READY) {
				ModelFrame *f;
				gboolean in_chunk, in_reader;

				FZ_CHECK(next < m.frames->len);
				f = &g_array_index(m.frames, ModelFrame, next);
				next++;
				/* it ends exactly where the model's frame ends */
				FZ_CHECK(off + used == f->start + f->len);
				FZ_CHECK(plen == f->len);
				FZ_CHECK(memcmp(pl, stream->data + f->start, plen) == 0);
				in_chunk = pl >= chunk && pl + plen <= chunk + clen;
				in_reader = r.payload != NULL && pl == r.payload &&
				            plen == r.length && r.payload_have == r.length;
				FZ_CHECK(in_chunk || in_reader);
				parley_frame_write(again, pl, plen);
			} else {
				FZ_CHECK(st == PARLEY_FRAME_BAD_LENGTH);
				FZ_CHECK(m.bad && off + used == m.bad_end);
				FZ_CHECK(next == m.frames->len);
				FZ_CHECK(pl == NULL && r.payload == NULL && r.failed);
				/* failure is final */
				st = parley_frame_reader_feed(&r, chunk + used, clen - used,
				                              &consumed, &pl, &plen);
				FZ_CHECK(st == PARLEY_FRAME_BAD_LENGTH && consumed == 0);
				failed = TRUE;
				break;
			}
		}
		free(chunk);
		off += used;
	}

	/* Everything the model found, and only that. */
	FZ_CHECK(next == m.frames->len);
	FZ_CHECK(failed == m.bad);
	if (!failed) {
		size_t tail = stream->len - m.done;

		FZ_CHECK(off == stream->len);
		if (tail == 0) {
			FZ_CHECK(r.header_have == 0 ||
			         (r.payload != NULL && r.payload_have == r.length));
		} else if (tail < PARLEY_FRAME_HEADER_LEN) {
			FZ_CHECK(r.header_have == tail && r.payload == NULL);
		} else {
			FZ_CHECK(r.header_have == PARLEY_FRAME_HEADER_LEN &&
			         r.payload != NULL &&
			         r.length == parley_get_be32(stream->data + m.done) &&
			         r.payload_have == tail - PARLEY_FRAME_HEADER_LEN);
		}
	}
	/* written back, the frames are the stream up to the last whole one */
	FZ_CHECK(again->len == m.done);
	FZ_CHECK(m.done == 0 || memcmp(again->data, stream->data, m.done) == 0);

	parley_frame_reader_clear(&r);
	FZ_CHECK(r.payload == NULL && r.header_have == 0 && !r.failed);
	g_array_unref(m.frames);
	g_byte_array_unref(again);
	g_byte_array_unref(stream);
	return 0;
}
