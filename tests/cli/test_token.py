"""``ipchain token create|list|revoke`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from ipchain.config import Settings
from ipchain.db.base import make_engine
from ipchain.errors import AuthenticationError
from ipchain.node.tokens import authenticate
from tests.helpers.cli import assert_one_line_error, run


def test_create_list_and_revoke(tmp_path: Path) -> None:
    data_dir = ("--data-dir", str(tmp_path))
    assert run("token", "list", *data_dir).stdout.strip() == "no API tokens"
    label = "back-office integration of the filing system, a label long enough to wrap"
    em = run("token", "create", "--office", "em", "--label", label, *data_dir)
    au = run("token", "create", "--office", "AU", *data_dir)
    assert em.returncode == au.returncode == 0, em.stderr + au.stderr
    em_token, au_token = em.stdout.strip(), au.stdout.strip()

    listed = run("token", "list", *data_dir)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), listed.stdout
    assert lines[0].split() == ["ID", "Office", "Created", "(UTC)", "Revoked", "(UTC)", "Label"]
    assert lines[1].split()[:2] == ["1", "EM"] and lines[1].split()[4] == "-"
    assert lines[-1].split()[:2] == ["2", "AU"]
    assert " ".join(listed.stdout.split()).count("long enough") == 1
    assert em_token not in listed.stdout and au_token not in listed.stdout

    revoked = run("token", "revoke", "1", *data_dir)
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.startswith("revoked API token 1 of EM (back-office")
    assert run("token", "revoke", "1", *data_dir).returncode == 0  # twice is harmless

    only_em = run("token", "list", "--office", "EM", *data_dir).stdout.splitlines()
    assert [line.split()[:2] for line in only_em[1:] if line.split()[0].isdigit()] == [["1", "EM"]]
    assert only_em[1].split()[4] != "-"  # a revocation time
    assert run("token", "list", "--office", "RU", *data_dir).stdout.strip() == (
        "no API tokens of RU"
    )

    engine = make_engine(Settings(data_dir=tmp_path).resolved_database_url())
    try:
        with Session(engine) as session:
            with pytest.raises(AuthenticationError):
                authenticate(session, em_token)
            assert authenticate(session, au_token) == "AU"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("revoke", "x"), "is not a positive whole number"),
        (("revoke", "0"), "is not a positive whole number"),
        (("revoke", "1.5"), "is not a positive whole number"),
        (("revoke", "7"), "no API token with id 7"),
        (("list", "--office", "E1"), "ST.3"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, arguments: tuple[str, ...], message: str) -> None:
    result = run("token", *arguments, "--data-dir", str(tmp_path))
    assert_one_line_error(result, 2, message)
