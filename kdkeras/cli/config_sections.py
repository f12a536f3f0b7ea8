"""The sections every starter config of `kdkeras init` shares.

`kdkeras.cli.starter_config` (images) and `kdkeras.cli.text_starter_config`
(texts) write their own `data`, `teacher`, `student` and the start of
`distill`; the header, the scratch baseline, the training keys and
deployment check that end `distill`, and `export`, `report` and `run` come
from here, so the two configs cannot drift apart.
"""

_HEADER = """\
# kdkeras run config: `kdkeras run {file_name}`.
# Input paths are relative to this file. Any key can be changed for one run
# with --set, e.g. `kdkeras run {file_name} --set distill.epochs=3`.

"""

_SCRATCH = """\
scratch:                 # the baseline: the student on the labels alone
  enabled: true
  epochs: {epochs}
  batch_size: {batch_size}
  learning_rate: {learning_rate}

"""

_DISTILL_TRAINING = """\
  epochs: {epochs}
  batch_size: {batch_size}
  learning_rate: {learning_rate}
  deployment_check:      # the int8 student scored on validation {examples} as it trains
    every_n_epochs: {every_n_epochs}
    max_accuracy_drop: 0.02    # float minus int8 accuracy; null for no budget
    on_budget_exceeded: warn   # or stop
"""

_CLOSING = """\
export:
  model: best            # the better student on validation; or distilled, scratch
  quantizations: [float16, int8]   # {export_comment}
  min_agreement: 0.98    # a LiteRT file agreeing less with Keras is a warning

report:
  latency_runs: 100

run:
  name: {name}
  output_dir: runs       # relative to where kdkeras runs
  seed: 1337
  tensorboard: true
"""

LEARNING_RATE = 0.003
"""The students' Adam learning rate, scratch and distilled alike."""


def header(file_name):
    """The comment that opens the config file `file_name`."""
    return _HEADER.format(file_name=file_name)


def scratch_section(epochs, batch_size):
    """`scratch:`, trained as long as the distilled student (a fair baseline)."""
    return _SCRATCH.format(
        epochs=epochs, batch_size=batch_size, learning_rate=LEARNING_RATE
    )


def distill_training_keys(epochs, batch_size, examples, every_n_epochs):
    """The keys that end `distill:`: its schedule and its deployment check.

    Args:
        epochs: As `scratch_section`'s, for the same schedule.
        batch_size: As `scratch_section`'s.
        examples: What the validation set holds, in words (`"images"`).
        every_n_epochs: How often the int8 student is checked.
    """
    return _DISTILL_TRAINING.format(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=LEARNING_RATE,
        examples=examples,
        every_n_epochs=every_n_epochs,
    )


def closing_sections(name, export_comment):
    """`export`, `report` and `run` (named `name`), the config's end.

    Args:
        name: The run's name.
        export_comment: What the comment after `quantizations` says.
    """
    return _CLOSING.format(name=name, export_comment=export_comment)
