#!/usr/bin/env python3
"""Builds the scanner benchmark's corpus: real source text copied from this machine's headers and
libraries until the tree reaches the target size, with secrets planted at known places.

Usage: scan_corpus.py OUT_DIR TARGET_MB KEYHOLD_KEYS_FILE
Writes OUT_DIR/tree/... and OUT_DIR/planted.tsv (path, line, kind), one row per planted secret.
"""
import os
import random
import string
import sys
import zlib

out, target_mb, keys_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
SOURCES = ["/usr/include", "/usr/lib/python3", "/usr/share/perl"]
TEXT = (".h", ".hpp", ".hh", ".c", ".cc", ".py", ".pm", ".pl", ".txt", ".json", ".yaml", ".cfg")
rng = random.Random(42)
tree = os.path.join(out, "tree")

files = []
for src in SOURCES:
    for d, _, names in os.walk(src):
        for n in names:
            p = os.path.join(d, n)
            if n.endswith(TEXT) and os.path.isfile(p) and not os.path.islink(p):
                files.append(p)
files.sort()

target = target_mb * 1_000_000
written, copy = 0, 0
while written < target:
    for p in files:
        try:
            data = open(p, "rb").read()
        except OSError:
            continue
        if b"\0" in data[:8000]:
            continue
        dest = os.path.join(tree, f"copy{copy}", p.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        open(dest, "wb").write(data)
        written += len(data)
        if written >= target:
            break
    copy += 1


def rand(alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


alnum = string.ascii_letters + string.digits
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def github_token(prefix):
    """GitHub's format: 30 random characters and their CRC32 in 6 base62 characters."""
    body = rand(alnum, 30)
    n, check = zlib.crc32(body.encode()), ""
    for _ in range(6):
        n, d = divmod(n, 62)
        check = BASE62[d] + check
    return prefix + body + check


# The markers are put together here so that this file itself holds no private-key block.
DASHES = "-" * 5
PEM_BEGIN = DASHES + "BEGIN RSA PRIVATE KEY" + DASHES
PEM_END = DASHES + "END RSA PRIVATE KEY" + DASHES
keyhold_keys = open(keys_file).read().split()[1:]
makers = {
    "aws-access-key-id": lambda: "AKIA" + rand(string.ascii_uppercase + "234567", 16),
    "github-pat": lambda: github_token("ghp_"),
    "slack-token": lambda: "xoxb-" + rand(string.digits, 12) + "-" + rand(string.digits, 12) + "-" + rand(alnum, 24),
    "private-key-rsa": lambda: PEM_BEGIN + "\n" + "\n".join(rand(alnum + "+/", 64) for _ in range(12)) + "\n" + PEM_END,
    "keyhold-key": lambda: keyhold_keys.pop(),
}
planted = []
plant_dir = os.path.join(tree, "planted")
os.makedirs(plant_dir, exist_ok=True)
i = 0
for kind, make in makers.items():
    for _ in range(10):
        secret = make()
        name = f"service_{i}.py"
        lines = [f"# service {i}", "import os", "", "def connect():"]
        lines.append(f'    credential = """{secret}"""' if kind == "private-key-rsa" else f'    token = "{secret}"')
        lines.append("    return Client(credential if False else token)")
        open(os.path.join(plant_dir, name), "w").write("\n".join(lines) + "\n")
        planted.append((f"planted/{name}", 5, kind))
        i += 1
with open(os.path.join(out, "planted.tsv"), "w") as f:
    for row in planted:
        f.write("\t".join(map(str, row)) + "\n")
print(f"corpus: {written / 1e6:.0f} MB of source text in {copy + 1} copies, {len(planted)} planted secrets")
