#!/usr/bin/env python3
"""Build the seed corpora of the libFuzzer targets from the test vectors.

    python3 tests/fuzz/make-corpus.py

reads tests/data/parley-v2.json and tests/data/classic.json and rewrites
tests/fuzz/corpus/<target>/ (one small file per seed, named after what it
holds).  The input formats are described at the top of each target
(fuzz_frame.c, fuzz-session.h, fuzz_records.c, fuzz_classic.c).  It also
checks that the constants compiled into the targets are the
vectors' values (fuzz-handshake.h: the native handshake's; fuzz-common.h:
classic mode's).  Standard library only.
"""
import json
import os
import re
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(TOP, "tests", "data")
CORPUS = os.path.join(HERE, "corpus")

MARK = 0xA5                     # fuzz-common.h: FZ_ACTION_MARK


def h(s):
    return bytes.fromhex(s)


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def act(op, arg=0):
    """An action of the local side in a session/classic script."""
    return bytes([MARK, op]) + struct.pack(">H", arg)


class Writer:
    def __init__(self, target):
        self.dir = os.path.join(CORPUS, target)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.names = set()

    def add(self, name, data):
        assert name not in self.names, name
        assert re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", name), name
        self.names.add(name)
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)


# ---- the constants compiled into the targets ------------------------------

def check_constants(v, c):
    src = ""
    for header in ("fuzz-handshake.h", "fuzz-common.h"):
        with open(os.path.join(HERE, header)) as f:
            src += f.read()
    # join the C string literals of each #define
    defs = {}
    for m in re.finditer(r'#define (FZ_\w+)\s+((?:"[^"]*"\s*\\?\s*)+)', src):
        defs[m.group(1)] = "".join(re.findall(r'"([^"]*)"', m.group(2)))
    hs = v["handshakes"][0]
    want = {
        "FZ_HS0_SALT": hs["inputs"]["salt"], "FZ_HS0_SID": hs["inputs"]["sid"],
        "FZ_HS0_YA": hs["inputs"]["ya"], "FZ_HS0_YB": hs["inputs"]["yb"],
        "FZ_HS0_NAME_I": hs["inputs"]["name_I"], "FZ_HS0_NAME_R": hs["inputs"]["name_R"],
        "FZ_HS0_PRS": hs["cpace"]["PRS"], "FZ_HS0_CODE": hs["keys"]["code"],
        "FZ_HS0_HS1": hs["frames"]["HS1"]["frame"],
        "FZ_HS0_HS2": hs["frames"]["HS2"]["frame"],
        "FZ_HS0_HS3": hs["frames"]["HS3"]["frame"],
        "FZ_HS0_HS4": hs["frames"]["HS4"]["frame"],
    }
    for k in ("key_IR", "iv_IR", "key_RI", "iv_RI", "chain"):
        want["FZ_HS0_" + k.upper()] = hs["keys"][k]
    for name, value in want.items():
        if defs.get(name) != value:
            sys.exit("make-corpus.py: %s in fuzz-handshake.h is not the vectors' %r"
                     % (name, value))
    if not re.search(r"FZ_HS0_ITER\s+%du" % hs["inputs"]["iterations"], src) or \
       not re.search(r"FZ_HS0_PORT\s+%d\b" % hs["inputs"]["listen_port"], src):
        sys.exit("make-corpus.py: FZ_HS0_ITER/PORT differ from the vectors")
    conv = v["conversation"]
    e_i = [x["e"] for x in conv if "e" in x and x["dir"] == "I->R"]
    e_r = [x["e"] for x in conv if "e" in x and x["dir"] == "R->I"]
    for name, values in (("FZ_CONV_E_I", e_i), ("FZ_CONV_E_R", e_r)):
        m = re.search(r"#define %s\s+\{([^}]*)\}" % name, src)
        if not m or re.findall(r'"([0-9a-f]+)"', m.group(1)) != values:
            sys.exit("make-corpus.py: %s differs from the conversation" % name)
    m = re.search(r"#define FZ_CLASSIC_KEYS \{(.*?)\} \}", src, re.S)
    pairs = re.findall(r'\{ "([0-9a-f]+)", "([0-9a-f]+)" \}', m.group(1) + "}") if m else []
    want_pairs = []
    for s in c["sessions"]:
        want_pairs += [(s["salt"], s["key"]), (s["rekey"]["new_salt"], s["rekey"]["new_key"])]
    if pairs != want_pairs:
        sys.exit("make-corpus.py: FZ_CLASSIC_KEYS differs from classic.json")


# ---- fuzz_frame: cfg | sizes | [fill] | data -------------------------------

def frame_seed(data, sizes=(), fill=None):
    cfg = len(sizes)
    assert cfg < 16
    out = bytearray()
    extra = b""
    if fill is not None:
        cfg |= 0x80
        count, value = fill
        extra = struct.pack(">HB", count, value)
    out.append(cfg)
    out += bytes(sizes) + extra + data
    return bytes(out)


def seeds_frame(v, c):
    w = Writer("fuzz_frame")
    hs = v["handshakes"][0]["frames"]
    three = b"".join(h(hs[k]["frame"]) for k in ("HS1", "HS2", "HS3", "HS4"))
    w.add("handshake-whole", frame_seed(three))
    w.add("handshake-bytewise", frame_seed(three, [1]))
    w.add("handshake-chunks-3-7-200", frame_seed(three, [3, 7, 200]))
    w.add("handshake-empty-reads", frame_seed(three, [0, 5, 0, 90]))
    conv = b"".join(h(x["frame"]) for x in v["conversation"])
    w.add("conversation-whole", frame_seed(conv))
    w.add("conversation-chunks-2-31", frame_seed(conv, [2, 31]))
    for i, fh in enumerate(v["negative"]["frame_headers"]):
        hdr = h(fh["header"])
        w.add("header-%s" % fh["header"], frame_seed(hdr + b"\x01\x02\x03"))
        w.add("header-%s-after-frame" % fh["header"],
              frame_seed(h(hs["HS3"]["frame"]) + hdr + b"\xee", [9, 0xff]))
    # a maximal frame, completed from fill (131070 filler + 2 data bytes)
    w.add("max-frame-filled", frame_seed(b"\x00\x02\x00\x00\xab\xcd", [0xff],
                                         fill=(43690, 0x5a)))
    w.add("max-frame-then-next", frame_seed(b"\x00\x02\x00\x00\xab\xcd", [200, 0xff],
                                            fill=(43691, 0)))
    w.add("one-byte-frames", frame_seed(b"\x00\x00\x00\x01A" * 5, [3]))
    w.add("truncated-payload", frame_seed(h(hs["HS1"]["frame"])[:40], [16]))
    w.add("truncated-header", frame_seed(b"\x00\x00\x00", [1]))
    cl = b"".join(h(m["frame"]) for m in c["sessions"][0]["messages"])
    w.add("classic-messages", frame_seed(cl + h(c["sessions"][0]["rekey"]["frame"]), [13]))
    w.add("empty", b"")


# ---- fuzz_responder / fuzz_initiator: cfg | script --------------------------

def conv_frames(v, steps):
    by_step = {x["step"]: x for x in v["conversation"]}
    return [h(by_step[s]["frame"]) for s in steps]


def seeds_responder(v):
    w = Writer("fuzz_responder")
    hs = v["handshakes"][0]["frames"]
    HS1, HS3 = h(hs["HS1"]["frame"]), h(hs["HS3"]["frame"])
    rekey = act(7)
    w.add("hs1", b"\x00" + HS1)
    w.add("hs1-hs3", b"\x00" + HS1 + HS3)
    # R through epochs 0..3: the rekey actions are R's steps 17 and 22
    script = HS1 + HS3 + b"".join(conv_frames(v, [1, 5, 6, 8, 9, 11, 14, 15]))
    script += rekey + conv_frames(v, [18])[0] + conv_frames(v, [19])[0]
    script += rekey + b"".join(conv_frames(v, [21, 24]))
    w.add("conversation", b"\x00" + script)
    w.add("conversation-coalesced", b"\x01" + script)
    w.add("conversation-then-eof", b"\x20" + script)
    w.add("conversation-events-left", b"\x40" + script)
    w.add("conversation-rekey-after-1", b"\x04" + script + act(5, 3) + act(5, 5))
    w.add("established-sends",
          b"\x10" + HS1 + HS3 + act(5, 12) + act(6, 1) + act(8) + act(7) + act(7)
          + act(5, 0xffff) + act(4, 60000) + act(4, 30000) + act(9, 0))
    w.add("established-idle-dies", b"\x00" + HS1 + HS3 + act(4, 0xffff) * 3)
    w.add("hs1-wrong-prs", b"\x02" + HS1 + act(1, 5) + HS3)
    w.add("hs1-stale-prs-id", b"\x02" + HS1 + act(2, 0) + act(0) + HS3)
    w.add("hs1-refused", b"\x02" + HS1 + act(3, 0x0103))
    w.add("hs1-frame-while-kdf", b"\x02" + HS1 + HS3 + act(0))
    w.add("hs1-version-while-kdf", b"\x02" + HS1 + HS1[:8] + b"\x03" + HS1[9:])
    w.add("hs1-timeout", b"\x02" + HS1 + act(4, 31000))
    w.add("hs1-peer-error",
          b"\x00" + HS1 + frame(h(v["negative"]["wrong_passphrase"]["example_error_frame_payload"])))
    wp = v["negative"]["wrong_passphrase"]
    if h(wp["HS1"]) == h(hs["HS1"]["payload"]):
        w.add("hs3-wrong-passphrase", b"\x00" + HS1 + frame(h(wp["HS3"])))
    w.add("sends-before-handshake", b"\x00" + act(5, 3) + act(6) + act(7) + act(8) + HS1)
    w.add("eof-before-hs1", b"\x00" + act(10) + HS1)
    for m in v["negative"]["hs1_malformed"]:
        w.add("hs1-" + m["name"].lower(), b"\x00" + frame(h(m["payload"])))
    for m in v["negative"]["hs3_malformed"]:
        w.add("hs3-" + m["name"].lower(), b"\x00" + HS1 + frame(h(m["payload"])))
    for lo in v["negative"]["low_order_points"]:
        if lo["must_abort"] and lo["name"] in ("u0", "u1", "u5"):
            w.add("hs3-low-order-" + lo["name"], b"\x00" + frame(h(lo["hs1_with_this_Ya"]))
                  + frame(h(lo["hs3_with_this_Ya"])))
    for fh in v["negative"]["frame_headers"]:
        if fh["must_close"]:
            w.add("header-" + fh["header"], b"\x00" + h(fh["header"]) + b"\x00" * 8)
    steps = {x["step"]: x for x in v["conversation"]}
    for r in v["negative"]["records"]:
        if r["receiver"] != "R":
            continue
        before = b"".join(h(steps[s]["frame"]) for s in r.get("after_steps") or [])
        w.add("record-" + r["name"], b"\x00" + HS1 + HS3 + before + frame(h(r["payload"])))


def seeds_initiator(v):
    w = Writer("fuzz_initiator")
    hs = v["handshakes"][0]["frames"]
    HS2, HS4 = h(hs["HS2"]["frame"]), h(hs["HS4"]["frame"])
    rekey = act(7)
    w.add("hs2", b"\x00" + HS2)
    w.add("hs2-hs4", b"\x00" + HS2 + HS4)
    # I through epochs 0..3: the rekey actions are I's steps 11 and 21
    script = HS2 + HS4 + b"".join(conv_frames(v, [2, 3, 4, 7, 10]))
    script += rekey + b"".join(conv_frames(v, [12, 13, 16, 17, 20]))
    script += rekey + b"".join(conv_frames(v, [22, 23, 25, 26]))
    w.add("conversation", b"\x00" + script)
    w.add("conversation-coalesced", b"\x01" + script)
    w.add("conversation-rekey-after-3", b"\x08" + script)
    w.add("established-sends",
          b"\x10" + HS2 + HS4 + act(5, 40) + act(6, 2) + act(8) + act(7) + act(5, 0xffff)
          + act(4, 61000) + act(9, 1))
    wp = v["negative"]["wrong_passphrase"]
    w.add("hs2-wrong-passphrase", b"\x00" + frame(h(wp["HS2"])) + frame(h(wp["HS4_unchecked"])))
    w.add("hs2-before-prs", b"\x02" + HS2 + act(0))
    w.add("prs-late", b"\x02" + act(4, 100) + act(0) + HS2 + HS4)
    w.add("timeout", b"\x00" + act(4, 30000) + HS2)
    w.add("hs2-version-3", b"\x00" + HS2[:8] + b"\x03" + HS2[9:])
    w.add("hs2-short", b"\x00" + frame(h(hs["HS2"]["payload"])[:-1]))
    w.add("hs3-instead", b"\x00" + h(hs["HS3"]["frame"]))
    w.add("hs4-before-hs2", b"\x00" + HS4 + HS2)
    for m in v["negative"]["hs2_malformed"]:
        w.add("hs2-" + m["name"].lower(), b"\x00" + frame(h(m["payload"])))
    for m in v["negative"]["hs4_malformed"]:
        w.add("hs4-" + m["name"].lower(), b"\x00" + HS2 + frame(h(m["payload"])))
    for lo in v["negative"]["low_order_points"]:
        if lo["must_abort"] and lo["name"] in ("u0", "u1", "u5"):
            w.add("hs2-low-order-" + lo["name"], b"\x00" + frame(h(lo["hs2_with_this_Yb"])))
    for name, p in (("error-auth", wp["example_error_frame_payload"]),
                    ("error-version", "50524c59017f01"),
                    ("error-v9-busy", "50524c59097f04627573790a")):
        w.add(name, b"\x00" + frame(h(p)))
        w.add("hs2-then-" + name, b"\x00" + HS2 + frame(h(p)))
    for r in v["negative"]["records"]:
        if r["receiver"] == "I":
            w.add("record-" + r["name"], b"\x00" + HS2 + HS4 + frame(h(r["payload"])))
    w.add("header-ffffffff", b"\x00" + HS2 + HS4 + b"\xff\xff\xff\xff")


# ---- fuzz_records: cfg | ops ------------------------------------------------

def r_seal(t, body):
    return bytes([0, t, len(body)]) + body


def r_msg(text):
    return bytes([1]) + struct.pack(">H", len(text)) + text


def r_rekey(i):
    """The mirror asks for a rekey with scalar i of its fixed set."""
    return bytes([2, i])


READ = bytes([3])


def r_send(text):
    return bytes([7]) + struct.pack(">H", len(text)) + text


def seeds_records(v):
    w = Writer("fuzz_records")
    e = [h(x["e"]) for x in v["conversation"] if "e" in x]
    S_REKEY, S_PING = bytes([9]), bytes([10])
    both = {
        "msg-read": b"\x00" + r_msg(b"Hello, Bob!") + READ,
        "every-inner-type": b"\x00" + r_seal(1, b"\x00" * 8 + "ça va?".encode())
        + r_seal(2, b"\x01" * 8) + r_seal(3, b"\x01") + r_seal(3, b"\x07")
        + r_seal(6, b"\x32" * 8) + r_seal(7, b"\x33" * 8) + r_seal(0x42, b"future")
        + r_seal(0, b"") + READ + r_seal(8, b"\x00"),
        "mirror-rekeys": b"\x00" + r_rekey(0) + READ + r_msg(b"epoch 1")
        + READ + r_rekey(1) + READ + r_msg(b"epoch 2") + READ,
        "s-rekeys": b"\x00" + S_REKEY + READ + r_msg(b"after") + S_REKEY
        + READ + r_send(b"s epoch 2") + READ,
        "crossed-rekeys": b"\x00" + S_REKEY + r_rekey(2) + READ
        + r_msg(b"tie-break") + r_send(b"s") + READ,
        "s-sends-auto-rekey": b"\x01" + r_send(b"1") + READ + r_send(b"2") + READ
        + r_send(b"3") + r_msg(b"x") + READ,
        "rekey-ack-low-order": b"\x00" + S_REKEY + r_seal(5, b"\x00" * 32),
    }
    for name, seed in both.items():
        w.add(name, seed)
        w.add(name + "-s-is-i", bytes([seed[0] | 0x40]) + seed[1:])
    w.add("s-sends", b"\x00" + r_send(b"Hi Alice") + r_send(b"") + READ
          + bytes([8, 1]) + S_PING + READ)
    w.add("s-sends-big", b"\x08" + bytes([7, 0xff, 0xff]) + bytes([7, 0xff, 0xfe]))
    w.add("ticks-ping-dead", b"\x08" + bytes([11]) + struct.pack(">H", 1300)
          + bytes([11]) + struct.pack(">H", 1300) + bytes([11]) + struct.pack(">H", 2000))
    w.add("tick-rekey-minute", b"\x0c" + bytes([11]) + struct.pack(">H", 1201)
          + r_msg(b"after the minute"))
    w.add("split-msg", b"\x08" + bytes([13, 0, 7]) + r_msg(b"in two pieces"))
    w.add("bad-body-length", b"\x00" + r_seal(1, b"\x01\x02\x03"))
    w.add("rekey-ack-unasked", b"\x00" + r_seal(5, e[3]))
    w.add("rekey-raw-point", b"\x00" + r_seal(4, b"\x00" * 32))
    w.add("rekey-twice", b"\x00" + r_rekey(0) + r_rekey(1) + READ)
    w.add("raw-frame", b"\x00" + bytes([4, 21]) + b"\x17" + b"\x00" * 21)
    w.add("raw-bytes", b"\x00" + bytes([5, 4]) + b"\xff\xff\xff\xff")
    w.add("mutate-replay", b"\x00" + r_msg(b"once") + bytes([6, 0, 9, 0]))
    w.add("mutate-flip", b"\x00" + r_msg(b"once") + bytes([6, 0, 9, 1]))
    w.add("wrong-epoch", b"\x00" + bytes([15, 0, 0, 0, 1, 3]))
    w.add("peer-error", b"\x40" + bytes([14, 3, 5]) + b"nope!")
    w.add("s-close", b"\x10" + r_msg(b"bye") + bytes([12, 0]) + READ + r_msg(b"late"))
    w.add("big-msg", b"\x08" + r_msg(bytes(range(256)) * 3) + r_send(b"\xff" * 600))
    w.add("events-left", b"\x20" + r_msg(b"unread") + r_seal(8, b"\x01"))


# ---- fuzz_classic: cfg | [salt] | script --------------------------------------

def seeds_classic(c):
    w = Writer("fuzz_classic")
    s0, s1 = c["sessions"]
    msgs0 = b"".join(h(m["frame"]) for m in s0["messages"][:3])
    after0 = h(s0["messages"][3]["frame"])
    rekey0 = h(s0["rekey"]["frame"])
    prev0 = frame(h(s0["previous_key_rule"]["payload"]))
    start = act(3, 2000)

    def send(text):
        return act(1, len(text)) + text

    peer0 = msgs0 + rekey0 + prev0 + after0
    w.add("listener-session", b"\x00" + peer0 + start + send(b"hello"))
    w.add("listener-sends-first", b"\x00" + send(b"queued") + start + peer0)
    for mode in range(4):
        w.add("connector-salt-mode-%d" % mode,
              bytes([0x01 | mode << 6]) + h(s0["salt"]) + peer0 + start + send(b"hi"))
    w.add("connector-latin1",
          b"\x01" + h(s1["salt"]) + b"".join(h(m["frame"]) for m in s1["messages"])
          + h(s1["rekey"]["frame"]) + frame(h(s1["previous_key_rule"]["payload"])))
    w.add("undecryptable", b"\x00" + b"".join(frame(h(u["payload"])) for u in c["undecryptable"]))
    w.add("manual-kdf-out-of-order",
          b"\x02" + rekey0 + h(s1["rekey"]["frame"]) + msgs0 + act(0, 2) + act(0, 1)
          + start + send(b"x") + act(2) + act(0, 0) + act(0, 0))
    w.add("manual-kdf-reversed-flush", b"\x22" + rekey0 + start + act(2) + send(b"y") + after0)
    w.add("auto-rekey-after-20", b"\x04" + start + b"".join(send(b"m%d" % i) for i in range(22))
          + peer0)
    # our rekey's salt is the vectors' new_salt (the second fixed draw), so
    # the peer's "after rekey" message is under our own latest key while
    # the peer's own rekey (session 1's salt) is newer: crossed (§11)
    w.add("crossed-rekeys", b"\x00" + start + act(2) + h(s1["rekey"]["frame"]) + after0
          + send(b"after crossing"))
    w.add("crossed-rekeys-manual", b"\x02" + act(0, 0) + start + act(2)
          + h(s1["rekey"]["frame"]) + act(0, 1) + act(0, 0) + after0 + send(b"x"))
    w.add("window-full", b"\x00" + b"".join(
        frame(b"__REKEY__" + bytes([i]) * 16) for i in range(9)) + msgs0 + start
        + send(b"under the newest"))
    w.add("rekey-before-start", b"\x00" + act(2) + act(2) + send(b"early") + start)
    w.add("big-and-too-long", b"\x00" + start + act(1, 0x8000 | 3000) + act(1, 0xffff))
    w.add("too-many-pending", b"\x02" + rekey0 * 9)
    w.add("bad-header", b"\x00" + b"\x00\x02\x00\x01" + b"\x00" * 4)
    w.add("eof-then-more", b"\x00" + msgs0 + act(4) + send(b"late") + act(2) + peer0)
    w.add("close-with-queue", b"\x10" + send(b"never sent") + act(5) + act(3, 5000))
    w.add("unknown-kdf-ids", b"\x02" + act(6, 1) + act(6, 7) + act(0) + act(6, 1) + start)
    w.add("toggle-auto", b"\x00" + act(7) + rekey0 + act(7) + start + send(b"z"))


def main():
    with open(os.path.join(DATA, "parley-v2.json"), encoding="utf-8") as f:
        v = json.load(f)
    with open(os.path.join(DATA, "classic.json"), encoding="utf-8") as f:
        c = json.load(f)
    check_constants(v, c)
    seeds_frame(v, c)
    seeds_responder(v)
    seeds_initiator(v)
    seeds_records(v)
    seeds_classic(c)
    for t in sorted(os.listdir(CORPUS)):
        print("%-16s %3d seeds" % (t, len(os.listdir(os.path.join(CORPUS, t)))))


if __name__ == "__main__":
    main()
