"""Running the `kdkeras` command in-process and checking its refusals: one
copy for the test modules of the command line (`tests/conftest.py` puts this
folder on `sys.path`, so a test module imports it as `cli_helpers`)."""

from click.testing import CliRunner

from kdkeras.cli.main import cli


def invoke(*args, env=None):
    """`kdkeras ARGS` in-process (click's `CliRunner`), each argument as a
    `str`; the `click.testing.Result`, output of stdout and stderr together."""
    return CliRunner().invoke(cli, [str(arg) for arg in args], env=env)


def assert_refused(result, code, *words, traceback=False, max_lines=25):
    """The command line's rule for an expected failure: exit `code`, an
    `Error: ` naming each of `words`; without `traceback`, no traceback and
    at most `max_lines` lines."""
    output = result.output
    assert result.exit_code == code, output
    assert "Error: " in output, output
    for word in words:
        assert word in output, output
    assert ("Traceback (most recent call last)" in output) == traceback, output
    if not traceback:
        assert len(output.strip().splitlines()) <= max_lines, output
