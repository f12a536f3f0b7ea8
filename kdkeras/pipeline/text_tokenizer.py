"""The tokenizer of a text run: the saved one of `data.tokenizer.path`, the
tokenizer its ready models were trained with, or one adapted on the
training texts."""

from kdkeras.config.errors import ConfigError


def run_tokenizer(tokenizer_config, train_texts):
    """The `WordTokenizer` of the `data.tokenizer` section.

    Args:
        tokenizer_config: The `TokenizerSection`.
        train_texts: The training texts, which an unsaved tokenizer is
            adapted on.

    Raises:
        ConfigError: If `path` holds no tokenizer kdkeras saved, or the
            configured `vocabulary_size` or `sequence_length` is not the
            saved tokenizer's.
    """
    from kdkeras.text import WordTokenizer, load_tokenizer

    if tokenizer_config.path is None:
        return WordTokenizer.adapt(
            train_texts,
            tokenizer_config.vocabulary_size,
            tokenizer_config.sequence_length,
        )
    try:
        tokenizer = load_tokenizer(tokenizer_config.path)
    except (OSError, ValueError) as error:
        raise ConfigError(
            [
                "data.tokenizer.path: expected a tokenizer saved by kdkeras (a "
                "device package, or a folder with tokenizer.json and vocab.txt "
                f"as tools/train_text_teacher.py writes); received "
                f"{tokenizer_config.path} ({error})"
            ]
        ) from None
    for key in ("vocabulary_size", "sequence_length"):
        configured, saved = getattr(tokenizer_config, key), getattr(tokenizer, key)
        if configured is not None and configured != saved:
            raise ConfigError(
                [
                    f"data.tokenizer.{key}: expected null or {saved}, the "
                    f"{key} of the saved tokenizer of data.tokenizer.path "
                    f"({tokenizer_config.path}); received {configured}"
                ]
            )
    return tokenizer
