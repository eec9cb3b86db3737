#!/usr/bin/env python3
"""Builds a tree of ordinary-looking code dense with secret-looking identifiers (token_count,
password_hint, secret_santa, api_version, key_name...) on most lines and no secrets: the input on
which a keyword prefilter passes nearly every line to the exact regexes.

Usage: scan_dense_corpus.py OUT_DIR TARGET_MB
"""
import os
import random
import sys

out, target_mb = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
NAMES = ["token_count", "password_hint", "secret_santa", "api_version", "key_name",
         "auth_header_name", "access_level", "credential_type", "private_key_path",
         "session_token_ttl", "secret_manager", "passwd_file", "apikey_len",
         "refresh_token_expiry", "client_secret_name"]
LINES = ["    {n} = get_{n}(config)\n", "    if {n} > {i}:\n        return {n} + 1\n",
         "def check_{n}({n}):\n", "    log.info(\"{n}=%s\", {n})\n", "    {n}: int = {i}\n",
         "# the {n} of the request, see {n}_docs\n", "    {n} = \"{n}_default\"\n"]
total, files = 0, 0
while total < target_mb * 1_000_000:
    text = "".join(rng.choice(LINES).format(n=rng.choice(NAMES), i=rng.randint(0, 99999))
                   for _ in range(2000))
    d = os.path.join(out, "m%03d" % (files // 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.py" % files), "w") as f:
        f.write(text)
    total += len(text)
    files += 1
print(f"dense corpus: {total / 1e6:.0f} MB in {files} files")
