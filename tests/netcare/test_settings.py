"""Production settings refuse to start without their secrets and pass the deploy check; other
environments make a random key per install and no published key is ever accepted."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k" * 10 + "9fQ2#xLz!7mWv@R4tYp$B8nCq%D1sHj^G6uKe&A3"


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS"}}
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DJANGO_ENV="production", ALLOWED_HOSTS="netcare.example.org")

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = _manage("check", DJANGO_ENV="production", SECRET_KEY=STRONG_KEY)

    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_production_settings_pass_the_deploy_check_with_no_warning():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="netcare.example.org",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# --- The secret key outside production ------------------------------------------------------
PUBLISHED_KEY = "netcare-insecure-development-key-not-for-production"
PRINT_KEYS = (
    "from django.conf import settings; "
    "print('keys:', settings.SECRET_KEY, settings.SIMPLE_JWT['SIGNING_KEY'])"
)


def _keys(var_dir: Path, **env: str) -> tuple[str, str]:
    """(SECRET_KEY, the JWT signing key) as a fresh development process sees them."""
    result = _manage(
        "shell", "-c", PRINT_KEYS, DJANGO_ENV="development", NETCARE_VAR_DIR=str(var_dir), **env
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("keys: "))
    secret, signing = line.split()[1:]
    return secret, signing


def test_each_development_install_makes_its_own_key_and_keeps_it_private(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"

    key_one, signing_one = _keys(first)
    key_one_again, _ = _keys(first)
    key_two, signing_two = _keys(second)

    assert key_one != key_two
    assert key_one == key_one_again, "the key is kept, so sessions survive a restart"
    assert signing_one == key_one and signing_two == key_two, "the JWT signing key follows"
    assert len(key_one) >= 50 and len(set(key_one)) >= 5  # Django's own bar for a strong key
    for var_dir, key in ((first, key_one), (second, key_two)):
        stored = var_dir / "secret_key"
        assert stored.read_text().strip() == key
        assert stored.stat().st_mode & 0o777 == 0o600
        assert sorted(p.name for p in var_dir.iterdir() if "secret" in p.name) == ["secret_key"]


def test_a_secret_key_from_the_environment_is_used_and_nothing_is_written(tmp_path):
    key, signing = _keys(tmp_path, SECRET_KEY=STRONG_KEY)

    assert key == signing == STRONG_KEY
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize("env", ["development", "test", "production"])
def test_the_key_once_published_in_the_repository_is_refused(tmp_path, env):
    result = _manage(
        "check",
        DJANGO_ENV=env,
        SECRET_KEY=PUBLISHED_KEY,
        ALLOWED_HOSTS="netcare.example.org",
        NETCARE_VAR_DIR=str(tmp_path),
    )

    assert result.returncode != 0
    assert "SECRET_KEY is a published key" in result.stderr


def test_the_var_directory_holding_the_key_is_ignored_by_git():
    result = subprocess.run(
        ["git", "check-ignore", "--quiet", "var/secret_key"], cwd=ROOT, check=False
    )

    assert result.returncode == 0, "var/secret_key would be committed"
