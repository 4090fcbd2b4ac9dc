"""Redaction by name and by value shape, log scrubbing, and which untracked files look secret."""

from __future__ import annotations

import pytest

from bathos.provenance.secrets import REDACTED, Redactor, is_secret_file, is_secret_name


@pytest.mark.parametrize("name", [
    "api-key", "api_key", "apiKey", "APIKEY", "OPENAI_API_KEY", "MY_KEY", "key", "ssh-key",
    "token", "hf-token", "hfToken", "HF_TOKEN_2", "access_token", "password", "PGPASSWORD",
    "db-pass", "pw", "clientSecret", "credentials", "auth", "private-key",
])
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", [
    "n-passes", "first-pass", "pass-at-k", "keyframes", "keys", "sort-key", "tokenizer",
    "max-tokens", "max_new_tokens", "pad-token", "eos_token", "token-budget", "author", "monkey",
    "bypass", "lr", "n_steps", "PWD", "SLURM_JOB_PARTITION", "KeyboardInterrupt",
])
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(("text", "stored"), [
    ("sk-proj-4f9a8b7c6d5e4f3a2b1c0d", REDACTED),
    ("sk_live_4f9a8b7c6d5e4f3a", REDACTED),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123", REDACTED),
    ("github_pat_11ABCDEFG0123456789_abcdefghij", REDACTED),
    ("xoxb-123456789-abcdefghij", REDACTED),
    ("AKIAIOSFODNN7EXAMPLE", REDACTED),
    ("hf_abcdefghijklmnopqrstuvwxyz", REDACTED),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl", REDACTED),
    ("Authorization: Bearer abc.def123456", f"Authorization: Bearer {REDACTED}"),
    ("Basic YWRhOmh1bnRlcjI=", f"Basic {REDACTED}"),
    ("https://ada:hunter2@example.org/x", f"https://ada:{REDACTED}@example.org/x"),
    ("https://ghs0123456789abcdefghijkl@github.com", f"https://{REDACTED}@github.com"),
    ("host=db password=hunter2 dbname=x", f"host=db password={REDACTED} dbname=x"),
    ("Server=db;Uid=ada;Pwd=hunter2;", f"Server=db;Uid=ada;Pwd={REDACTED};"),
    ("https://x.org/a?api_key=abc123&page=2", f"https://x.org/a?api_key={REDACTED}&page=2"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
     f"-----BEGIN RSA PRIVATE KEY-----{REDACTED}-----END RSA PRIVATE KEY-----"),
])
def test_secret_shaped_values(text: str, stored: str) -> None:
    assert Redactor().text(text) == stored


@pytest.mark.parametrize("text", [
    "KeyError: 'lr'", "sk-learn-regression-experiment", "Basic configuration failed",
    "https://example.org/data.csv", "ssh://git@github.com/a/b", "lr=0.1", "results/run-1.csv",
])
def test_ordinary_values(text: str) -> None:
    assert Redactor().text(text) == text


def test_argv_keeps_its_shape_and_remembers_what_it_took() -> None:
    redactor = Redactor()

    argv = redactor.argv(["--api-key", "k1-secret", "--password=k2-secret", "--no-token",
                          "--token", "k3-secret", "-p", "8080", "--n-passes", "3",
                          "-H", "X-Api-Key: k4-secret", "db.password=k5-secret"])

    assert argv == ("--api-key", REDACTED, f"--password={REDACTED}", "--no-token",
                    "--token", REDACTED, "-p", "8080", "--n-passes", "3",
                    "-H", f"X-Api-Key: {REDACTED}", f"db.password={REDACTED}")
    assert redactor.found == {f"k{n}-secret" for n in range(1, 6)}
    assert redactor.params({"api_key": "k6-secret", "verbose": "true"}) == {
        "api_key": REDACTED, "verbose": "true"}
    log = b"got k1-secret and k6-secret; port 8080\n"
    assert redactor.scrub(log) == b"got <redacted> and <redacted>; port 8080\n"


def test_extra_patterns() -> None:
    redactor = Redactor(names=["^hub"], values=["acme-[0-9a-f]{8}", r"sid:(\w+)"])

    assert redactor.argv(["--hub-id", "h1", "--model", "acme-0123abcd", "sid:xyz"]) == (
        "--hub-id", REDACTED, "--model", REDACTED, f"sid:{REDACTED}")


@pytest.mark.parametrize(("relpath", "secret"), [
    (".env", True), ("config/.env.local", True), ("prod.env", True), ("certs/server.pem", True),
    ("id_rsa", True), ("id_ed25519.pub", True), (".netrc", True), ("credentials.json", True),
    ("tls.key", True), ("notes.txt", False), (".envrc", False), ("keyboard.py", False),
])
def test_secret_files(relpath: str, secret: bool) -> None:
    assert is_secret_file(relpath) is secret


def test_extra_file_globs() -> None:
    assert is_secret_file("vault.secret", ["*.secret"])
    assert is_secret_file("conf/prod.toml", ["conf/prod.*"])
    assert not is_secret_file("other/prod.toml", ["conf/prod.*"])


def test_results_keep_their_metrics() -> None:
    results = {"loss": 0.1, "session_length": 12, "config": {"api_key": "k1-secret", "lr": "0.1",
               "urls": ["https://ada:k2-secret@example.org/x"]}}

    assert Redactor().data(results) == {"loss": 0.1, "session_length": 12, "config": {
        "api_key": REDACTED, "lr": "0.1", "urls": [f"https://ada:{REDACTED}@example.org/x"]}}
