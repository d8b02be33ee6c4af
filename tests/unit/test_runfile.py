"""The run file through which `iops demo` finds the key of a local `iops local`."""

from __future__ import annotations

import stat

import pytest

from local import runfile


@pytest.fixture(autouse=True)
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("IOPS_RUN_DIR", str(tmp_path))
    return tmp_path


def test_a_loopback_url_finds_the_key_of_the_server_on_its_port() -> None:
    target = runfile.write(8123, "http://127.0.0.1:8123", "secret-key")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert runfile.local_api_key("http://127.0.0.1:8123") == "secret-key"
    assert runfile.local_api_key("http://localhost:8123/") == "secret-key"
    assert runfile.local_api_key("http://127.0.0.1:8124") is None


def test_a_deployed_api_never_gets_a_local_key() -> None:
    runfile.write(443, "https://127.0.0.1", "secret-key")
    assert runfile.local_api_key("https://abc.execute-api.us-east-1.amazonaws.com/prod") is None


def test_removed_or_broken_files_give_no_key(run_dir) -> None:
    runfile.write(8123, "http://127.0.0.1:8123", "k")
    runfile.remove(8123)
    runfile.remove(8123)  # a second stop is not an error
    assert runfile.local_api_key("http://127.0.0.1:8123") is None
    (run_dir / "local-8125.json").write_text("{not json")
    assert runfile.local_api_key("http://127.0.0.1:8125") is None
