"""Text: a tokenizer a phone can repeat, and classifiers over token ids."""

from kdkeras.text.classifiers import (
    build_embedding_bag,
    build_text_cnn,
    build_text_transformer,
)
from kdkeras.text.layers import (
    MaskedMeanPooling,
    PaddingAttentionMask,
    PositionEmbedding,
)
from kdkeras.text.saved_tokenizer import SETTINGS_FILE, load_tokenizer
from kdkeras.text.tokenizer import (
    DELIMITER,
    VOCABULARY_FILE,
    WordTokenizer,
    split_words,
)
