"""Tokens come from the environment or a private file; a readable-by-others file is refused
with one line naming the key and the fix, never the value."""

from __future__ import annotations

import pytest

from config.errors import ConfigError
from notifications.secret import read_token, scrub


def test_token_from_env_or_private_file(tmp_path):
    assert read_token(key="k", env_name="T", file="", base=tmp_path, environ={"T": " abc \n"}) == "abc"
    assert read_token(key="k", env_name="T", file="", base=tmp_path, environ={}) == ""
    path = tmp_path / "tok"
    path.write_text("s3cret-value\n")
    path.chmod(0o600)
    assert read_token(key="k", env_name="T", file="tok", base=tmp_path, environ={}) == "s3cret-value"
    path.chmod(0o644)
    with pytest.raises(ConfigError) as err:
        read_token(key="telegram.token_file", env_name="T", file="tok", base=tmp_path, environ={})
    assert str(err.value).startswith("telegram.token_file: ") and "chmod 600" in str(err.value)
    assert "s3cret" not in str(err.value)
    with pytest.raises(ConfigError, match="dashboard.token_file: cannot read"):
        read_token(key="dashboard.token_file", env_name="", file="missing", base=tmp_path)


def test_scrub_hides_every_secret():
    assert scrub("GET /bot123:abc/sendMessage failed", "123:abc", "") == "GET /bot***/sendMessage failed"


def test_a_token_with_a_line_break_inside_is_refused_without_its_value(tmp_path):
    path = tmp_path / "tok"
    path.write_text("4242:s3cret-value\n# my chat is 7\n")
    path.chmod(0o600)
    with pytest.raises(ConfigError) as err:
        read_token(key="telegram.token_file", env_name="T", file="tok", base=tmp_path, environ={})
    assert str(err.value).startswith(f"telegram.token_file: {path}: the token holds a line break")
    with pytest.raises(ConfigError) as err:
        read_token(key="k", env_name="T", file="", base=tmp_path,
                   environ={"T": "4242:s3cret-value\tx"})
    assert str(err.value).startswith("$T: the token holds a line break")
    assert "s3cret" not in str(err.value)


@pytest.mark.parametrize("mode", [0o640, 0o660, 0o604])
def test_a_token_file_others_or_its_group_can_read_is_refused(tmp_path, mode):
    """Mutation audit: checking only the bits of others (``mode & 0o007``) left every test
    passing (they used 0644), while a token file its group could read (0640, a common umask's
    choice for a shared host) was taken."""
    path = tmp_path / "tok"
    path.write_text("4242:s3cret-value\n")
    path.chmod(mode)
    with pytest.raises(ConfigError) as err:
        read_token(key="telegram.token_file", env_name="T", file="tok", base=tmp_path, environ={})
    assert f"has mode {mode:04o}; must be 0600" in str(err.value)
    assert "s3cret" not in str(err.value)
