"""Which tokens for the text student: what MediaPipe's tokenizer can express,
measured against the lower-cased tokens kdkeras used before.

MediaPipe Tasks' `TextClassifier` splits text at a delimiter regex and looks
the pieces up as written. kdkeras' `WordTokenizer` is defined that way
(delimiter `[^A-Za-z0-9]+`, no case change) so that MediaPipe runs a text
package unchanged. This benchmark measures what the definition costs: a
bag-of-words logistic regression (scikit-learn, the same for every row) over
the ids of each tokenizer, trained on SpamAssassin's training e-mails and
scored on its 1,200 test e-mails, at three vocabulary sizes:

- `delimiter split` — `kdkeras.text.WordTokenizer` as it is;
- `lower-cased regex matches` — the earlier tokenizer: lower-case, then every
  match of `[a-z0-9]+|[$!]` (keeps `$` and `!`; MediaPipe cannot express it);
- `delimiter split, case forms` — the delimiter split with a lower-cased
  vocabulary whose lower, Capitalised and UPPER forms share an id
  (expressible: MediaPipe's vocabulary file may map several tokens to one
  id; three times the vocabulary file).

    python benchmarks/tokenizer_choice.py --data datasets-spam-assassin-0.2.3.tgz
"""

import argparse
import collections
import re
import sys
import time

import numpy as np

from kdkeras.datasets.spam_assassin import load_spam_assassin
from kdkeras.text import WordTokenizer, split_words

VOCABULARY_SIZES = (500, 2000, 8000)
SEQUENCE_LENGTH = 256
_EARLIER_TOKEN = re.compile(r"[a-z0-9]+|[$!]")


def _earlier_tokens(text):
    return _EARLIER_TOKEN.findall(text.lower())


def _ranked_vocabulary(texts, tokens_of, size):
    counts = collections.Counter()
    for text in texts:
        counts.update(tokens_of(text))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [token for token, _ in ranked[: size - 2]]


def encoders(x_train, size):
    """`{name: texts -> list of id lists}` for the three tokenizers."""
    tokenizer = WordTokenizer.adapt(x_train, size, SEQUENCE_LENGTH)
    earlier = _ranked_vocabulary(x_train, _earlier_tokens, size)
    earlier_ids = {token: i + 2 for i, token in enumerate(earlier)}
    lower = _ranked_vocabulary(
        x_train, lambda text: [t.lower() for t in split_words(text)], size
    )
    form_ids = {}
    for i, word in enumerate(lower):
        for form in (word, word.capitalize(), word.upper()):
            form_ids.setdefault(form, i + 2)

    def lookup(ids, tokens_of):
        return lambda texts: [
            [ids.get(token, 1) for token in tokens_of(text)[:SEQUENCE_LENGTH]]
            for text in texts
        ]

    return {
        "delimiter split": lambda texts: [
            [int(i) for i in row if i != 0] for row in tokenizer(texts)
        ],
        "lower-cased regex matches": lookup(earlier_ids, _earlier_tokens),
        "delimiter split, case forms": lookup(form_ids, split_words),
    }


def bag_of_words(id_lists, size):
    from scipy.sparse import csr_matrix

    rows, columns = [], []
    for row, ids in enumerate(id_lists):
        for token_id in set(ids):
            rows.append(row)
            columns.append(token_id)
    values = np.ones(len(rows), np.float32)
    return csr_matrix((values, (rows, columns)), shape=(len(id_lists), size))


def measure(x_train, y_train, x_test, y_test, size):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    runs = []
    for name, encode in encoders(x_train, size).items():
        train_ids, test_ids = encode(x_train), encode(x_test)
        model = LogisticRegression(max_iter=3000).fit(
            bag_of_words(train_ids, size), y_train
        )
        predictions = model.predict(bag_of_words(test_ids, size))
        tokens = [token_id for ids in test_ids for token_id in ids]
        runs.append(
            {
                "tokenizer": name,
                "vocabulary_size": size,
                "accuracy": round(float((predictions == y_test).mean()), 4),
                "macro_f1": round(
                    float(f1_score(y_test, predictions, average="macro")), 4
                ),
                "unknown_rate": round(float(np.mean(np.array(tokens) == 1)), 4),
            }
        )
        print(runs[-1], flush=True)
    return runs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="the SpamAssassin archive (else the default)")
    parser.add_argument("--output", help="the result file (else benchmarks/results/)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = load_spam_assassin(args.data)
    runs = []
    for size in VOCABULARY_SIZES:
        runs += measure(list(x_train), y_train, list(x_test), y_test, size)
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from result_files import write_result

    return write_result(
        "tokenizer_choice",
        args.output,
        seeds=[0],
        seconds=round(time.perf_counter() - start),
        test_emails=len(x_test),
        probe="scikit-learn LogisticRegression(max_iter=3000) on binary bags of ids",
        runs=runs,
    )


if __name__ == "__main__":
    main()
