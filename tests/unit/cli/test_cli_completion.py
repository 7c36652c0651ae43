"""``silobridge completion bash|zsh``: the printed script completes commands, options and choices
when a real shell runs it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from silobridge_cli.main import main as cli_main

# (words typed, the last one being completed) -> what the shell offers
CASES = [
    (["silobridge", "jo"], ["job"]),
    (["silobridge", "job", ""], ["submit", "wait", "status", "stop", "list", "pending", "approve", "refuse"]),
    (["silobridge", "--help", "job", "st"], ["status", "stop"]),
    (["silobridge", "job", "status", "j1", "--out"], ["--output"]),
    (["silobridge", "table", "describe", "demo.t", "--output", ""], ["text", "json"]),
    (["silobridge", "data", "upload", "--file", ""], []),  # a value without choices: the shell's files
    (["silobridge", "completion", ""], ["bash", "zsh"]),
]


def script(shell: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert cli_main(["completion", shell]) == 0
    path = tmp_path / f"silobridge.{shell}"
    path.write_text(capsys.readouterr().out)
    return path


def test_bash_completes_from_the_argparse_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = script("bash", tmp_path, capsys)
    lines = [f"source {path}"]
    for words, _ in CASES:
        quoted = " ".join(f"'{w}'" for w in words)
        lines.append(
            f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; COMPREPLY=(); _silobridge; "
            'echo "${COMPREPLY[*]}"'
        )
    out = subprocess.run(["bash", "-c", "\n".join(lines)], capture_output=True, text=True, check=True)
    assert out.stderr == ""
    assert [line.split() for line in out.stdout.splitlines()] == [want for _, want in CASES]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_from_the_argparse_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = script("zsh", tmp_path, capsys)
    # compadd gets every candidate and filters by the typed prefix itself: do the same here
    lines = [
        "compdef() { :; }",
        'compadd() { shift; local w; for w in "$@"; do [[ "$w" == "$words[CURRENT]"* ]] && print -rn -- "$w "; done; }',
        "_files() { print -n FILES; }",
        f"source {path}",
    ]
    for words, _ in CASES:
        quoted = " ".join(f"'{w}'" for w in words)
        lines.append(f"words=({quoted}); CURRENT={len(words)}; _silobridge; print")
    out = subprocess.run(["zsh", "-f", "-c", "\n".join(lines)], capture_output=True, text=True, check=True)
    assert out.stderr == ""
    expected = [want or ["FILES"] for _, want in CASES]
    assert [line.split() for line in out.stdout.splitlines()] == expected
