"""The README's "Using it in your tests" example passes: here through pytester, and (marked slow) in a fresh venv
that only pip-installed this package, as a user's project would."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- readme-example:start -->\s*```python\n(.*?)```\s*<!-- readme-example:end -->", text,
                      re.S)
    assert block, "README.md lost its readme-example markers"
    return block.group(1)


@pytest.mark.live
def test_the_readme_example_passes(pytester):
    pytester.makepyfile(test_speaker_id=readme_example())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=600)
    result.assert_outcomes(passed=5)


@pytest.mark.live
@pytest.mark.slow  # about a minute: pip installs this package into a new venv
def test_the_readme_example_passes_in_a_fresh_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT), "pytest"], env=env,
                             capture_output=True, text=True, timeout=1200)
    assert install.returncode == 0, install.stdout + install.stderr
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_speaker_id.py").write_text(readme_example())
    where = subprocess.run([str(python), "-c", "import mock_server; print(mock_server.__file__)"], cwd=project,
                           env=env, capture_output=True, text=True, timeout=120)
    assert str(venv) in where.stdout, where  # the installed package, not this checkout
    run = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0 and "5 passed" in run.stdout, run.stdout + run.stderr


@pytest.mark.live
def test_a_shared_mock_that_does_not_answer_is_named_with_what_to_do(pytester, monkeypatch):
    import socket
    with socket.socket() as s:     # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("SPEAKER_ID_MOCK_URL", dead)
    pytester.makepyfile(test_shared="def test_it(speaker_id_server):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=120)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*no speaker-id-mock answers at {dead} (SPEAKER_ID_MOCK_URL*"])


@pytest.mark.live
def test_a_shared_mocks_grpc_target_may_be_the_url_files_line(pytester, monkeypatch):
    from mock_server.testing import LiveServer
    with LiveServer() as live:
        monkeypatch.setenv("SPEAKER_ID_MOCK_URL", live.url)
        monkeypatch.setenv("SPEAKER_ID_MOCK_GRPC_TARGET", f"grpc={live.grpc_target}")   # pasted whole
        pytester.makepyfile(test_shared=(
            "from mock_server.testing.pytest_plugin import clip_path\n"
            "def test_it(speaker_id_server, enrolled_speakers):\n"
            f"    assert speaker_id_server.grpc_target == {live.grpc_target!r}\n"
            "    result = speaker_id_server.stream(clip_path('conversation.ogg'), ['alice', 'bob'])\n"
            "    assert result.answers\n"))
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=300)
        result.assert_outcomes(passed=1)
