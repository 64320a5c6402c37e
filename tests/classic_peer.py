#!/usr/bin/python3
"""classic_peer.py - a scripted stand-in for the original Python tool.

Parley's end-to-end tests of classic mode (PROTOCOL.md section 11) talk to
this peer.  It behaves as the ORIGINAL tool does, not as Parley refines it:

  - the listener sends 16 raw salt bytes right after accepting; the
    connector reads exactly 16 bytes before anything else;
  - key = PBKDF2-HMAC-SHA256(passphrase.encode('latin-1'), salt, 200000, 16),
    the passphrase taken as typed (no NFC);
  - frames are length (4, big-endian) | payload; a message payload is
    nonce (12) | tag (16) | AES-128-GCM ciphertext, no associated data;
  - it starts reading before its first key is derived and drops what
    arrives meanwhile;
  - after 20 messages sent (and on "rekey") it picks a new salt, derives the
    key, sends __REKEY__ || salt and switches at once; any payload that
    starts with __REKEY__ switches to the key of the 16 bytes after it, at
    once, for both directions;
  - what fails to decrypt is reported and dropped; the connection stays.
    The original keeps no older keys: --window N (default 1, the original)
    lets a test keep the last N keys, as Parley does, to check that nothing
    is lost.

Driven over stdin/stdout, one line each, stdout flushed after every line.
Commands:
  send <json string>   encrypt and send one message (waits for the first key)
  rekey                rekey now
  raw <hex>            write these bytes to the socket as they are
  hold / release       stop / resume reading the socket (a frame in flight)
  close                close the connection
End of input closes the connection and exits.
Events:
  listening <port>, connected, key-ready, sent <n>, recv <json string>,
  undecryptable [nokey], rekeyed self|peer, closed, error <json string>
"""
import argparse
import json
import socket
import struct
import sys
import threading

from Cryptodome.Cipher import AES
from Cryptodome.Hash import SHA256
from Cryptodome.Protocol.KDF import PBKDF2
from Cryptodome.Random import get_random_bytes

ITERATIONS = 200000
REKEY_TAG = b"__REKEY__"
REKEY_EVERY = 20

out_lock = threading.Lock()


def emit(*words):
    with out_lock:
        sys.stdout.write(" ".join(str(w) for w in words) + "\n")
        sys.stdout.flush()


class Peer:
    def __init__(self, passphrase, window):
        self.secret = passphrase.encode("latin-1")   # as the original: no NFC
        self.window = window
        self.sock = None
        self.keys = []                  # newest first; keys[0] is the current key
        self.lock = threading.Lock()    # keys, and the socket's write side
        self.key_ready = threading.Event()
        self.reading = threading.Event()
        self.reading.set()
        self.sent = 0
        self.since_rekey = 0
        self.closed = False

    def derive(self, salt):
        return PBKDF2(self.secret, salt, 16, count=ITERATIONS, hmac_hash_module=SHA256)

    def install(self, key):
        with self.lock:
            self.keys.insert(0, key)
            del self.keys[self.window:]

    def write(self, data):
        self.sock.sendall(data)

    def write_frame(self, payload):
        self.write(struct.pack(">I", len(payload)) + payload)

    # -- the session ------------------------------------------------------

    def listen(self, host, port):
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((host, port))
        srv.listen(1)
        emit("listening", srv.getsockname()[1])
        threading.Thread(target=self.serve, args=(srv,), daemon=True).start()

    def serve(self, srv):
        try:
            self.sock, _ = srv.accept()     # one connection, as the original
            srv.close()
            emit("connected")
            salt = get_random_bytes(16)
            self.write(salt)
            self.start(salt)
        except OSError as e:
            emit("error", json.dumps(str(e)))

    def connect(self, host, port):
        def run():
            try:
                self.sock = socket.create_connection((host, port))
                emit("connected")
                salt = self.read_exact(16)
                if salt is None:
                    self.end()
                    return
                self.start(salt)
            except OSError as e:
                emit("error", json.dumps(str(e)))
                self.end()
        threading.Thread(target=run, daemon=True).start()

    def start(self, salt):
        # the original reads before its key exists, and drops what comes
        threading.Thread(target=self.receive, daemon=True).start()
        self.install(self.derive(salt))
        self.key_ready.set()
        emit("key-ready")

    def read_exact(self, n):
        buf = b""
        while len(buf) < n:
            self.reading.wait()
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def receive(self):
        try:
            while True:
                head = self.read_exact(4)
                payload = self.read_exact(struct.unpack(">I", head)[0]) if head else None
                if payload is None:
                    break
                if payload.startswith(REKEY_TAG):
                    self.install(self.derive(payload[len(REKEY_TAG):len(REKEY_TAG) + 16]))
                    emit("rekeyed", "peer")
                else:
                    self.open(payload)
        except OSError:
            pass
        self.end()

    def open(self, payload):
        with self.lock:
            keys = list(self.keys)
        if not keys:
            emit("undecryptable", "nokey")
            return
        nonce, tag, ct = payload[:12], payload[12:28], payload[28:]
        for key in keys:
            try:
                pt = AES.new(key, AES.MODE_GCM, nonce=nonce).decrypt_and_verify(ct, tag)
            except ValueError:
                continue
            emit("recv", json.dumps(pt.decode("utf-8", "replace")))
            return
        emit("undecryptable")

    def end(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
        self.reading.set()
        emit("closed")

    # -- what the user does ---------------------------------------------------

    def send(self, text):
        self.key_ready.wait()
        nonce = get_random_bytes(12)
        with self.lock:
            ct, tag = AES.new(self.keys[0], AES.MODE_GCM, nonce=nonce).encrypt_and_digest(
                text.encode("utf-8"))
            self.write_frame(nonce + tag + ct)
            self.sent += 1
            self.since_rekey += 1
        emit("sent", self.sent)
        if self.since_rekey >= REKEY_EVERY:
            self.rekey()

    def rekey(self):
        self.key_ready.wait()
        salt = get_random_bytes(16)
        key = self.derive(salt)
        with self.lock:
            self.write_frame(REKEY_TAG + salt)
            self.keys.insert(0, key)
            del self.keys[self.window:]
            self.since_rekey = 0
        emit("rekeyed", "self")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    role = ap.add_mutually_exclusive_group(required=True)
    role.add_argument("--listen", type=int, metavar="PORT", help="0: an ephemeral port")
    role.add_argument("--connect", metavar="HOST:PORT")
    ap.add_argument("--passphrase", required=True)
    ap.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1"])
    ap.add_argument("--window", type=int, default=1, help="keys kept (original: 1)")
    args = ap.parse_args()
    sys.stdin.reconfigure(encoding="utf-8")

    peer = Peer(args.passphrase, max(1, args.window))
    if args.listen is not None:
        peer.listen(args.host, args.listen)
    else:
        host, _, port = args.connect.rpartition(":")
        peer.connect(host, int(port))

    for line in sys.stdin:
        cmd, _, arg = line.rstrip("\n").partition(" ")
        try:
            if cmd == "send":
                peer.send(json.loads(arg))
            elif cmd == "rekey":
                peer.rekey()
            elif cmd == "raw":
                peer.key_ready.wait()
                with peer.lock:
                    peer.write(bytes.fromhex(arg))
            elif cmd == "hold":
                peer.reading.clear()
            elif cmd == "release":
                peer.reading.set()
            elif cmd == "close":
                peer.end()
            else:
                emit("error", json.dumps("unknown command " + cmd))
        except (OSError, ValueError) as e:
            emit("error", json.dumps(str(e)))
    peer.end()


if __name__ == "__main__":
    main()
