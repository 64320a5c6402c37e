/*
 * test-frame.c - §2 framing: reassembly from any split, the size limits.
 */
#include <string.h>

#include "constants.h"
#include "frame.h"
#include "testutil.h"

/* Feed a whole buffer in pieces of the given sizes; collect frames. */
static GPtrArray *
feed_split(const uint8_t *data, size_t len, size_t cut1, size_t cut2,
           gboolean *bad)
{
	ParleyFrameReader r;
	GPtrArray *frames = g_ptr_array_new_with_free_func((GDestroyNotify) g_bytes_unref);
	size_t cuts[3] = { cut1, cut2, len };
	size_t pos = 0;
	int i;

	*bad = FALSE;
	parley_frame_reader_init(&r);
	for (i = 0; i < 3; i++) {
		size_t end = MAX(pos, cuts[i]);

		while (pos < end) {
			const uint8_t *payload;
			size_t plen, used;
			ParleyFrameStatus st;

			st = parley_frame_reader_feed(&r, data + pos, end - pos, &used,
			                              &payload, &plen);
			pos += used;
			if (st == PARLEY_FRAME_BAD_LENGTH) {
				*bad = TRUE;
				goto out;
			}
			if (st == PARLEY_FRAME_READY)
				g_ptr_array_add(frames, g_bytes_new(payload, plen));
			else
				g_assert_cmpuint(pos, ==, end);
		}
	}
out:
	parley_frame_reader_clear(&r);
	return frames;
}

static void
test_split_everywhere(void)
{
	GByteArray *stream = g_byte_array_new();
	const char *payloads[] = { "a", "hello", "", "a somewhat longer frame payload" };
	guint n = 0, i;
	size_t c1, c2;

	for (i = 0; i < G_N_ELEMENTS(payloads); i++) {
		if (*payloads[i] == '\0')
			continue;
		parley_frame_write(stream, payloads[i], strlen(payloads[i]));
		n++;
	}
	/* every pair of cut points: covers every single split too */
	for (c1 = 0; c1 <= stream->len; c1++) {
		for (c2 = c1; c2 <= stream->len; c2++) {
			gboolean bad;
			GPtrArray *frames = feed_split(stream->data, stream->len, c1, c2, &bad);
			guint k = 0;

			g_assert_false(bad);
			g_assert_cmpuint(frames->len, ==, n);
			for (i = 0; i < G_N_ELEMENTS(payloads); i++) {
				gsize sz;
				const void *d;

				if (*payloads[i] == '\0')
					continue;
				d = g_bytes_get_data(frames->pdata[k++], &sz);
				g_assert_cmpmem(d, sz, payloads[i], strlen(payloads[i]));
			}
			g_ptr_array_unref(frames);
		}
	}
	g_byte_array_unref(stream);
}

static void
test_byte_at_a_time(void)
{
	GByteArray *stream = g_byte_array_new();
	uint8_t big[PARLEY_MAX_FRAME];
	ParleyFrameReader r;
	size_t pos;
	guint frames = 0;

	memset(big, 0x5a, sizeof(big));
	parley_frame_write(stream, big, sizeof(big));
	parley_frame_write(stream, "x", 1);
	parley_frame_reader_init(&r);
	for (pos = 0; pos < stream->len; pos++) {
		const uint8_t *payload;
		size_t plen, used;

		if (parley_frame_reader_feed(&r, stream->data + pos, 1, &used, &payload,
		                             &plen) == PARLEY_FRAME_READY) {
			frames++;
			g_assert_true(plen == sizeof(big) || plen == 1);
		}
		g_assert_cmpuint(used, ==, 1);
	}
	g_assert_cmpuint(frames, ==, 2);
	parley_frame_reader_clear(&r);
	g_byte_array_unref(stream);
}

/* The vector file's headers: 0 and > MAX_FRAME close before any payload. */
static void
test_headers(void)
{
	TJson *root = tj_load("parley-v2.json");
	TJson *list = tj_need(root, "negative/frame_headers");
	guint i;

	for (i = 0; i < tj_len(list); i++) {
		TJson *c = tj_at(list, i);
		size_t hlen, used, plen;
		uint8_t *hdr = tj_phex(c, "header", &hlen);
		const uint8_t *payload;
		ParleyFrameReader r;
		ParleyFrameStatus st;

		parley_frame_reader_init(&r);
		st = parley_frame_reader_feed(&r, hdr, hlen, &used, &payload, &plen);
		if (tj_pbool(c, "must_close", FALSE)) {
			g_assert_cmpint(st, ==, PARLEY_FRAME_BAD_LENGTH);
			/* nothing was allocated for the payload */
			g_assert_null(r.payload);
			/* and the reader stays failed */
			st = parley_frame_reader_feed(&r, (const uint8_t *) "abc", 3, &used,
			                              &payload, &plen);
			g_assert_cmpint(st, ==, PARLEY_FRAME_BAD_LENGTH);
		} else {
			g_assert_cmpint(st, ==, PARLEY_FRAME_NEED_MORE);
			g_assert_cmpuint(used, ==, 4);
		}
		parley_frame_reader_clear(&r);
		g_free(hdr);
	}
	tj_free(root);
}

/* Never more than one frame buffered: a reader fed many frames at once
 * stops after the first. */
static void
test_one_frame_at_a_time(void)
{
	GByteArray *stream = g_byte_array_new();
	ParleyFrameReader r;
	const uint8_t *payload;
	size_t plen, used;

	parley_frame_write(stream, "one", 3);
	parley_frame_write(stream, "two", 3);
	parley_frame_reader_init(&r);
	g_assert_cmpint(parley_frame_reader_feed(&r, stream->data, stream->len, &used,
	                &payload, &plen), ==, PARLEY_FRAME_READY);
	g_assert_cmpuint(used, ==, 7);
	g_assert_cmpmem(payload, plen, "one", 3);
	g_assert_cmpint(parley_frame_reader_feed(&r, stream->data + used,
	                stream->len - used, &used, &payload, &plen), ==, PARLEY_FRAME_READY);
	g_assert_cmpmem(payload, plen, "two", 3);
	parley_frame_reader_clear(&r);
	g_byte_array_unref(stream);
}

static void
test_be(void)
{
	uint8_t b[8];

	parley_put_be64(b, G_GUINT64_CONSTANT(0x0102030405060708));
	t_assert_hex(b, 8, "0102030405060708");
	g_assert_cmpuint(parley_get_be64(b), ==, G_GUINT64_CONSTANT(0x0102030405060708));
	parley_put_be32(b, 0xdeadbeef);
	g_assert_cmpuint(parley_get_be32(b), ==, 0xdeadbeef);
	parley_put_be16(b, 5000);
	g_assert_cmpuint(parley_get_be16(b), ==, 5000);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/frame/split-everywhere", test_split_everywhere);
	g_test_add_func("/frame/byte-at-a-time", test_byte_at_a_time);
	g_test_add_func("/frame/headers", test_headers);
	g_test_add_func("/frame/one-at-a-time", test_one_frame_at_a_time);
	g_test_add_func("/frame/big-endian", test_be);
	return g_test_run();
}
