"""Tests of kdkeras.progress: Keras-style `verbose` for kdkeras' long steps."""

import keras
import pytest

from kdkeras import progress


def test_check_verbose_reads_verbose_as_keras_does():
    assert [progress.check_verbose(v) for v in (0, 1, 2, "auto")] == [0, 1, 2, 1]
    assert progress.check_verbose("auto", auto=0) == 0
    for bad in (3, -1, True, "yes", None):
        with pytest.raises(ValueError, match="`verbose` must be 0, 1, 2 or 'auto'"):
            progress.check_verbose(bad)


def test_progress_bar_only_for_verbose_1():
    assert isinstance(progress.progress_bar(3, 1), keras.utils.Progbar)
    assert progress.progress_bar(3, 0) is None
    assert progress.progress_bar(3, 2) is None


def test_print_step_prints_one_line(capsys):
    progress.print_step("[1/2] int8", "calibrating on 200 examples …")
    assert capsys.readouterr().out == "[1/2] int8: calibrating on 200 examples …\n"
