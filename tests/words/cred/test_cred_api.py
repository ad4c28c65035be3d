from __future__ import annotations

import words.cred


def test_package_reexports_the_public_api() -> None:
    for name in words.cred.__all__:
        assert getattr(words.cred, name) is not None, name
    assert words.cred.UnknownUser.__mro__[1:3] == (
        words.cred.UnauthorizedLogin,
        words.cred.LoginFailed,
    )
