"""People who sign in (issue "Press office", 2): one authority and role each, passwords only as
Argon2id hashes, a lock-out after five wrong passwords for fifteen minutes, managed with
`herold user` and audited. On SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from publisher.domain.records import Role
from publisher.edges.cli import main
from publisher.engine.schema import UserRow
from publisher.engine.store import Store
from publisher.engine.store.users import LOCKED_FOR, SignIn, UserExists

from conftest import herold_toml

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 3 a.m.: someone must warn now
PASSWORD = "Fliegerbombe am Markt 2026"


def test_a_password_is_kept_only_as_an_argon2id_hash_and_signs_in(store: Store) -> None:
    store.users.add("Anna.Presse", "lk-beispiel", Role.approver, PASSWORD, NOW, alert=True)

    with store.engine.begin() as connection:
        kept = connection.execute(select(UserRow.password_hash)).scalar_one()
    assert kept.startswith("$argon2id$") and PASSWORD not in kept
    outcome, person = store.users.sign_in("anna.presse", PASSWORD, NOW)
    assert outcome is SignIn.ok and person is not None
    assert (person.username, person.authority, person.role, person.alert) == (
        "anna.presse",
        "lk-beispiel",
        Role.approver,
        True,
    )


def test_usernames_are_unique_across_authorities(store: Store) -> None:
    store.users.add("anna", "lk-beispiel", Role.editor, PASSWORD, NOW)
    with pytest.raises(UserExists):
        store.users.add("Anna", "stadt-nachbar", Role.editor, PASSWORD, NOW)


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes_even_for_the_right_one(store: Store) -> None:
    store.users.add("anna", "lk-beispiel", Role.editor, PASSWORD, NOW)

    outcomes = [store.users.sign_in("anna", f"falsch {n}", NOW)[0] for n in range(5)]
    assert outcomes == [SignIn.wrong] * 4 + [SignIn.locked]
    assert store.users.sign_in("anna", PASSWORD, NOW + LOCKED_FOR - timedelta(seconds=1))[0] is SignIn.locked
    assert store.users.sign_in("anna", PASSWORD, NOW + LOCKED_FOR)[0] is SignIn.ok


def test_a_good_sign_in_starts_the_count_of_wrong_ones_afresh(store: Store) -> None:
    store.users.add("anna", "lk-beispiel", Role.editor, PASSWORD, NOW)
    for _ in range(4):
        store.users.sign_in("anna", "falsch", NOW)
    assert store.users.sign_in("anna", PASSWORD, NOW)[0] is SignIn.ok
    assert [store.users.sign_in("anna", "falsch", NOW)[0] for _ in range(4)] == [SignIn.wrong] * 4


def test_a_disabled_person_and_an_unknown_name_are_not_let_in(store: Store) -> None:
    store.users.add("anna", "lk-beispiel", Role.admin, PASSWORD, NOW)
    store.users.disable("anna", NOW)

    assert store.users.sign_in("anna", PASSWORD, NOW)[0] is SignIn.disabled
    assert store.users.sign_in("niemand", PASSWORD, NOW) == (SignIn.wrong, None)


def test_a_new_password_replaces_the_old_and_lifts_a_lock(store: Store) -> None:
    store.users.add("anna", "lk-beispiel", Role.editor, PASSWORD, NOW)
    for _ in range(5):
        store.users.sign_in("anna", "falsch", NOW)
    store.users.set_password("anna", "Entwarnung um sechs Uhr", NOW)

    assert store.users.sign_in("anna", PASSWORD, NOW)[0] is SignIn.wrong
    assert store.users.sign_in("anna", "Entwarnung um sechs Uhr", NOW)[0] is SignIn.ok


# -- herold user ------------------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "herold.toml"
    path.write_text(herold_toml(), encoding="utf-8")
    return path


def herold(config: Path, *arguments: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *arguments], input=input, catch_exceptions=False)


def test_user_add_list_passwd_disable_from_the_command_line_each_audited(config: Path) -> None:
    added = herold(config, "user", "add", "Anna.Presse", "--authority", "lk-beispiel", "--role", "approver",
                   "--alert", "--password-stdin", input=PASSWORD + "\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "Added anna.presse (lk-beispiel, approver, alert)" in added.output

    listed = herold(config, "user", "list")
    assert "anna.presse  lk-beispiel  approver  alert  active" in listed.output
    assert PASSWORD not in listed.output and "argon2" not in listed.output

    prompted = herold(config, "user", "passwd", "anna.presse", input="Neues Passwort 2026\nNeues Passwort 2026\n")
    assert prompted.exit_code == 0, prompted.output
    assert herold(config, "user", "disable", "anna.presse").exit_code == 0
    assert "anna.presse  lk-beispiel  approver  alert  disabled" in herold(config, "user", "list").output

    store = Store(f"sqlite:///{config.parent / 'var' / 'herold.db'}")
    try:
        actions = [e.action for e in store.audit.entries(authority="lk-beispiel")]
        assert store.users.sign_in("anna.presse", "Neues Passwort 2026", NOW)[0] is SignIn.disabled
    finally:
        store.dispose()
    assert actions[-3:] == ["user.added", "user.password_set", "user.disabled"]


@pytest.mark.parametrize(
    ("arguments", "given", "says"),
    [
        (
            ["user", "add", "anna", "--authority", "gibt-es-nicht", "--role", "editor", "--password-stdin"],
            PASSWORD,
            "No authority 'gibt-es-nicht'",
        ),
        (
            ["user", "add", "anna", "--authority", "lk-beispiel", "--role", "editor", "--password-stdin"],
            "kurz",
            "at least 12 characters",
        ),
        (
            ["user", "add", "a b", "--authority", "lk-beispiel", "--role", "editor", "--password-stdin"],
            PASSWORD,
            "The user name must be",
        ),
        (["user", "disable", "niemand"], None, "No user 'niemand'"),
        (["user", "passwd", "niemand", "--password-stdin"], PASSWORD, "No user 'niemand'"),
    ],
)
def test_bad_input_is_a_clear_error_and_nothing_is_stored(
    config: Path, arguments: list[str], given: str | None, says: str
) -> None:
    result = herold(config, *arguments, input=None if given is None else given + "\n")
    assert result.exit_code == 2 and says in result.output
    assert "Traceback" not in result.output
    assert herold(config, "user", "list").output.strip() == ""


def test_the_same_username_twice_is_refused(config: Path) -> None:
    first = ["user", "add", "anna", "--authority", "lk-beispiel", "--role", "editor", "--password-stdin"]
    assert herold(config, *first, input=PASSWORD + "\n").exit_code == 0
    again = herold(config, *first, input=PASSWORD + "\n")
    assert again.exit_code == 2 and "There is a user 'anna' already" in again.output
